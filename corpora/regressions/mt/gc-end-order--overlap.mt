galloc-mt 1
# found by galloc-sched --strategy random --seed 1 --threads 2 --ops 12 in 15.78 s
# found with: --alloc-plant gc-end-order
# finding: overlap : new object at 0xc00000e000 (48 bytes, thread 0) overlaps live object 4 at 0xc00000e000 (48 bytes, thread 0)
threads 2
thread 0
verify
malloc 40000 scan
malloc 64
malloc 48 scan
malloc 48
malloc 48 scan
thread 1
scavenge policy
malloc 128
free 51893
release
malloc 48
free-other 9033
gc keep=72 seed=39
free 60495
free-other 55453
schedule 1x140 0x3 1x150 0x15 1x322 0x8
