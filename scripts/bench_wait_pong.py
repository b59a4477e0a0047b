#!/usr/bin/env python3
"""Times a server's start-up: polls PING until the answer is +PONG.

Usage: bench_wait_pong.py PORT TIMEOUT_S

Started before the server, since starting Python takes a while on a busy
machine (a quarter of a second has been seen): prints "ready" once it can
poll, then reads the server's PID from standard input (its caller starts the
server in between) and connects to 127.0.0.1:PORT over and over (the listener may not exist yet),
sends PING on the connection it gets and repeats it every POLL_S while the
answer is -LOADING (a server loading its data set answers that, Redis and
TokenginX alike). Prints one JSON object: the wall-clock time (epoch seconds,
the clock bash's EPOCHREALTIME reads) of the +PONG, the time of the first
answer of any kind, how many -LOADING answers came before, and the first
other error if any. Exits 1 if the server exits or TIMEOUT_S passes first.
"""

import json
import os
import socket
import sys
import time

# Short enough that polling adds at most a couple of ms to a figure measured
# in tens of ms or more; long enough that the poller stays near idle.
POLL_S = 0.002


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main():
    port, timeout = int(sys.argv[1]), float(sys.argv[2])
    print("ready", flush=True)
    pid = int(sys.stdin.readline())
    deadline = time.time() + timeout
    result = {"pong_at": None, "first_answer_at": None, "loading_replies": 0, "other_error": None}
    sock, buf = None, b""
    while time.time() < deadline:
        if not alive(pid):
            result["exited"] = True
            break
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                buf = b""
            sock.sendall(b"PING\r\n")
            while b"\r\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionResetError("closed")
                buf += chunk
        except OSError:
            if sock is not None:
                sock.close()
                sock = None
            time.sleep(POLL_S)
            continue
        line, buf = buf.split(b"\r\n", 1)
        now = time.time()
        if result["first_answer_at"] is None:
            result["first_answer_at"] = now
        if line == b"+PONG":
            result["pong_at"] = now
            break
        if line.startswith(b"-LOADING"):
            result["loading_replies"] += 1
        elif result["other_error"] is None:
            result["other_error"] = line.decode("utf-8", "replace")[:200]
        time.sleep(POLL_S)
    if sock is not None:
        sock.close()
    print(json.dumps(result), flush=True)
    return 0 if result["pong_at"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
