galloc-mt 1
# found by galloc-sched --strategy random --seed 1 --threads 2 --ops 12 in 0.01 s
# found with: --alloc-plant cross-cache-free
# finding: verify F2: ga_verify F2: span 0xc000000000 (spc 9, npages 1): pending frees 0x1 but no sweep requested
threads 2
thread 0
free-other 25669
thread 1
malloc 32
schedule 1x143 0x8 1x5
