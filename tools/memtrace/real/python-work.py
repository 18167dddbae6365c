"""Ordinary Python work between two /proc/self/maps snapshots (see tools/memtrace/record-real.sh).

The snapshots are read with os.readv into a buffer allocated beforehand, so that reading them allocates as
little as possible, and the file is opened as "/proc/self/./maps", a spelling nothing else uses, which marks
the snapshots in the trace; trim-real.mjs checks that no memory call ran while the file was open.
"""
import os
import sys


def snapshot(path, buf):
    mv = memoryview(buf)
    fd = os.open('/proc/self/./maps', os.O_RDONLY)
    off = 0
    while True:
        n = os.readv(fd, [mv[off:]])
        if n == 0:
            break
        off += n
    os.close(fd)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(out, mv[:off])
    os.close(out)


def work():
    import json
    import random
    import re
    import zlib
    import hashlib

    rnd = random.Random(1)
    for rnd_i in range(6):
        # many small objects: obmalloc arenas come and go (mmap/munmap)
        rows = [{'id': i, 'name': 'item%d' % i, 'tags': [str(j) for j in range(i % 7)], 'w': rnd.random()}
                for i in range(60000 + 20000 * rnd_i)]
        text = json.dumps(rows)
        back = json.loads(text)
        back.sort(key=lambda r: r['w'])
        del rows, back
        # big buffers: malloc's mmap threshold, realloc growing in place or moving (mremap)
        blob = bytearray()
        for k in range(200):
            blob += os.urandom(4096) * (1 + k % 9)
        packed = zlib.compress(bytes(blob), 6)
        assert zlib.decompress(packed) == blob
        hashlib.sha256(blob).hexdigest()
        del blob, packed
        words = re.findall(r'[a-z]+\d', text)
        index = {}
        for w in words:
            index.setdefault(w[:3], []).append(w)
        del words, index, text
        big = [bytes(rnd.randrange(100_000, 3_000_000)) for _ in range(12)]
        del big
    # extension modules: file mappings of shared objects
    import decimal, sqlite3, csv, fractions, statistics, xml.etree.ElementTree as ET, ctypes, array  # noqa: E401,F401
    db = sqlite3.connect(':memory:')
    db.execute('create table t (a integer, b text)')
    db.executemany('insert into t values (?, ?)', ((i, 'v%d' % i) for i in range(50000)))
    db.execute('select count(*), sum(a) from t').fetchone()
    db.close()
    root = ET.fromstring('<r>' + ''.join('<x a="%d">%d</x>' % (i, i) for i in range(20000)) + '</r>')
    sum(int(e.get('a')) for e in root)
    statistics.mean(fractions.Fraction(i, 7) for i in range(2000))
    decimal.getcontext().prec = 200
    decimal.Decimal(2).sqrt()


def main():
    before, after = sys.argv[1], sys.argv[2]
    buf = bytearray(8 << 20)
    snapshot(before, buf)
    work()
    snapshot(after, buf)


main()
