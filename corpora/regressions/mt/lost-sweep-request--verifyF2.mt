galloc-mt 1
# found by galloc-sched --strategy random --seed 1 --threads 2 --ops 12 in 4.26 s
# found with: --alloc-plant lost-sweep-request
# finding: verify F2: ga_verify F2: span 0xc000000000 (spc 21, npages 1): pending frees 0x2 but no sweep requested
threads 2
thread 0
malloc 128
malloc 64
malloc 128
malloc 128
malloc 128
free 58206
free 7328
thread 1
free 26976
schedule 1 0x170 1x5 0x4
