galloc-mt 1
# schedule written by hand: thread 1 frees while thread 0 stands at gc.end.marking (between the planted
# marking=false and the sweepgen bump); random and pct miss it, pos finds it for 6 of 10 seeds
# in 60 s (harness/tests/sched_table.sh)
# found with: --alloc-plant gc-end-order
# finding: verify C2: ga_verify C2: span 0xc000000000 (spc 13, npages 1): on list swept partial, want unswept partial (sweepgen 0 h 2 allocCount 1 nelems 126 req 1)
threads 2
thread 0
malloc 64
gc keep=100 seed=0
thread 1
free-other 0
schedule 1 0x144 1 0x283 1x6 0x3
