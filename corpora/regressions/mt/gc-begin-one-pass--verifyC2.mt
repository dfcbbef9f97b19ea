galloc-mt 1
# found by galloc-sched --strategy random --seed 1 --threads 2 --ops 12 in 2.92 s (on a loaded machine)
# found with: --alloc-plant gc-begin-one-pass
# finding: verify C2: ga_verify C2: span 0xc000000000 (spc 3, npages 1): on list swept partial, want unswept partial (sweepgen 0 h 2 allocCount 1 nelems 1024 req 1)
threads 2
thread 0
malloc 8
free 35875
thread 1
free-other 468
gc keep=74 seed=140 sweep
schedule 1x3 0x145 1x10 0x4 1x139
