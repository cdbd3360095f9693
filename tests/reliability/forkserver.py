"""The battery's fork server: `python forkserver.py JOBS < cases.json`.

It imports NumPy and fastconv once (a fresh interpreter per case spends 0.4 s on that), then forks one child per
case, at most JOBS at a time. Each child is a separate process as before: a crash or a hang kills only that child,
which is reaped (or SIGKILLed at its timeout) and reported. The server itself never runs an op, so no fastconv
worker thread exists when it forks. Prints one line "@@RESULTS@@[[rc, stdout, stderr, seconds], ...]" where rc is
None for a timeout and -signal for a child killed by a signal.
"""
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from battery import MARK, PRELUDE_DEFS  # noqa: E402

env: dict = {"__name__": "__battery__"}
exec(compile(PRELUDE_DEFS, "<prelude>", "exec"), env)


def child(code: str, out: str, err: str) -> None:
    try:
        fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        sys.stdout, sys.stderr = os.fdopen(1, "w"), os.fdopen(2, "w")
        # The child's own copy of the server's namespace: the prelude's helpers read TMP from it.
        env["TMP"] = tempfile.mkdtemp(prefix="fc-battery-")
        os.chdir(env["TMP"])
        try:
            exec(compile(code, "<case>", "exec"), env)
        except BaseException as e:  # noqa: BLE001 - reporting it is the point
            r = {"raised": type(e).__name__, "message": str(e)[:4000], "mro": [k.__name__ for k in type(e).__mro__]}
        else:
            r = {"raised": None}
        sys.stdout.write("\n" + MARK + json.dumps(r) + "\n")
        sys.stdout.flush()
    finally:
        os._exit(0)  # no interpreter teardown: leftovers of a case cannot turn its result into a crash


def main() -> None:
    cases = json.loads(sys.stdin.read())  # [[id, code, timeout], ...]
    jobs = int(sys.argv[1])
    outdir = tempfile.mkdtemp(prefix="fc-battery-out-")
    pending, running, results = list(range(len(cases))), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            i = pending.pop(0)
            out, err = os.path.join(outdir, f"{i}.out"), os.path.join(outdir, f"{i}.err")
            pid = os.fork()
            if pid == 0:
                child(cases[i][1], out, err)
            running[pid] = (i, time.monotonic(), out, err)
        pid, status = os.waitpid(-1, os.WNOHANG)
        now = time.monotonic()
        if pid:
            i, t0, out, err = running.pop(pid)
            rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with open(out) as fo, open(err) as fe:
                results[i] = [rc, fo.read()[-20000:], fe.read()[-4000:], now - t0]
            continue
        for pid, (i, t0, out, err) in list(running.items()):
            if now - t0 > cases[i][2]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                results[i] = [None, "", "", now - t0]
                del running[pid]
        time.sleep(0.002)
    sys.stdout.write("@@RESULTS@@" + json.dumps([results[i] for i in range(len(cases))]) + "\n")


if __name__ == "__main__":
    main()
