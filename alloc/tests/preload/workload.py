# workload.py — an allocation-heavy Python run for preload.python (PYTHONMALLOC=malloc, so
# every object goes through the C allocator): dicts of strings, JSON round trips, regex,
# sorting, list growth (realloc) and threads. Prints a deterministic summary.
import collections
import hashlib
import json
import random
import re
import threading

random.seed(12345)

d = {}
for i in range(50000):
    k = "key%d_%s" % (i, "x" * (i % 37))
    d[k] = {"id": i, "name": str(i) * (i % 7 + 1), "tags": [str(j) for j in range(i % 5)]}
total = sum(len(v["name"]) for v in d.values())
s = json.dumps(d, sort_keys=True)
d2 = json.loads(s)
assert d2 == d
print(len(d), total, len(s), hashlib.sha256(s.encode()).hexdigest())
del d, d2, s

parts = []
for i in range(80000):
    parts.append("%08x:%s" % (random.getrandbits(32), "ab" * (i % 50)))
text = "\n".join(parts)
words = collections.Counter(re.findall(r"[0-9a-f]{8}", text))
print(len(text), len(words), words.most_common(1)[0][1])
parts.sort()
print(parts[0][:20], parts[-1][:20])
del text, words

l = []
for i in range(500000):
    l.append(i * 3)
b = bytearray()
for i in range(100000):
    b += b"%d," % i
print(sum(l), len(b), hashlib.md5(bytes(b)).hexdigest())
del l, b

res = [0] * 4


def work(n):
    acc = {}
    for i in range(30000):
        acc[i % 5000] = acc.get(i % 5000, "")[:50] + str(i * (n + 1))
    res[n] = sum(len(v) for v in acc.values())


ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(res)
