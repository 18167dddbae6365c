#!/usr/bin/env python3
"""What the host kernel keeps of a workload beside busy processes, measured as bench:interference measures
the lab: one run of the program, its samples alternating between quiet, one and two CPU-bound processes
(`node -e 'for(;;){}'`-like loops, nice 0, switched with SIGCONT/SIGSTOP 100 ms before each 0.3 s sample),
the order turning from sample to sample. The program prints "time count" lines (maps-read.c does).
Usage: kept.py SAMPLES_PER_LEVEL -- PROGRAM [ARGS…]; prints per level the median rate, its range, and kept."""
import os, signal, statistics, subprocess, sys, threading, time

n = int(sys.argv[1]); cmd = sys.argv[sys.argv.index('--') + 1:]
busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)]
for b in busy: b.send_signal(signal.SIGSTOP)
prog = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
last = [0.0, 0]
def follow():
    for line in prog.stdout:
        t, c = line.split(); last[:] = [float(t), int(c)]
threading.Thread(target=follow, daemon=True).start()
time.sleep(1.0)  # warm-up
rates = {0: [], 1: [], 2: []}
try:
    for i in range(n):
        for level in ([0, 1, 2] if i % 2 == 0 else [2, 1, 0]):
            for k, b in enumerate(busy): b.send_signal(signal.SIGCONT if k < level else signal.SIGSTOP)
            time.sleep(0.1)
            t0, c0 = last; time.sleep(0.3); t1, c1 = last
            rates[level].append((c1 - c0) / (t1 - t0))
finally:
    for b in busy: b.send_signal(signal.SIGCONT); b.kill()
    prog.kill()
q = statistics.median(rates[0])
for level, rs in rates.items():
    m = statistics.median(rs)
    print(f"{' '.join(cmd[1:]) or 'default'}  busy {level}: {m:8.0f}/s ({min(rs):.0f}–{max(rs):.0f})  kept {100 * m / q:5.1f}%")
