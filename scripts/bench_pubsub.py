#!/usr/bin/env python3
"""PUBLISH throughput to one subscriber, and the server CPU time per
message: a pipelined publisher (64-byte messages) and a raw subscriber in
two processes.

    scripts/bench_pubsub.py PORT MESSAGES MODE SERVER_PID

MODE is "redis" (any connection), or for TokenginX "cross" or "same": the
publisher connection is re-opened until it lands on another shard than the
subscriber (INFO's cross_shard_requests moves when a PUBLISH crosses), or
on the same one. Figures are in tuning.md ("Pub/Sub").
"""
import multiprocessing as mp, socket, sys, time

def info_cross(s):
    s.sendall(b"INFO stats\r\n")
    data = b""
    while True:
        data += s.recv(65536)
        if data.startswith(b"$"):
            n = int(data[1:data.index(b"\r\n")])
            if len(data) >= data.index(b"\r\n") + 2 + n + 2:
                break
    for line in data.split(b"\r\n"):
        if line.startswith(b"cross_shard_requests:"):
            return int(line.split(b":")[1])
    return None

def cmd(s, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def subscriber(port, n, ready, result):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(cmd(s, "SUBSCRIBE", "bench"))
    s.recv(100)
    ready.set()
    one = b"*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$64\r\n" + b"x" * 64 + b"\r\n"
    want = n * len(one)
    got = 0
    buf = bytearray(1 << 20)
    while got < want:
        got += s.recv_into(buf)
    result.put(time.perf_counter())

def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0

def main():
    port, n, mode, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    payload = b"x" * 64
    ready, result = mp.Event(), mp.Queue()
    sub = mp.Process(target=subscriber, args=(port, n, ready, result))
    sub.start()
    ready.wait()
    admin = socket.create_connection(("127.0.0.1", port))
    pub = None
    for _ in range(200):
        p = socket.create_connection(("127.0.0.1", port))
        a = info_cross(admin)
        b = info_cross(admin)
        p.sendall(cmd(p, "PUBLISH", "probe", "x"))
        p.recv(100)
        c = info_cross(admin)
        crossed = a is not None and (c - b) > (b - a)
        if mode == "redis" or (mode == "cross") == crossed:
            pub = p
            break
        p.close()
    assert pub is not None, "no connection on the wanted shard"
    one = cmd(pub, "PUBLISH", "bench", payload)
    batch = 256
    block = one * batch
    c0 = cpu(pid)
    t0 = time.perf_counter()
    sent = 0
    acked = 0
    inflight_max = 4096
    rbuf = b""
    pub.setblocking(True)
    while sent < n:
        pub.sendall(block)
        sent += batch
        while sent - acked > inflight_max:
            d = pub.recv(1 << 20)
            acked += d.count(b"\r\n")
    while acked < sent:
        d = pub.recv(1 << 20)
        acked += d.count(b"\r\n")
    t_pub = time.perf_counter()
    t_end = result.get()
    c1 = cpu(pid)
    sub.join()
    print("%s: %d messages, delivered %.0f msgs/s, server CPU %.2f us/msg" % (mode, sent, sent / (t_end - t0), (c1 - c0) * 1e6 / sent))

main()
