/**
 * Source of the nbdkit Python plugin behind faulty-device.ts, written to the
 * device's temp dir at run time (kept as a string so tsc ships it in out/).
 *
 * It serves a disk of `size` bytes whose data lives in a sparse backing file
 * of `backingSize` bytes (so the test can read what really landed there, even
 * after nbdkit is killed or hung), and it fails, wraps or hangs requests as
 * the JSON spec says. The spec's offsets are device offsets (before wrapping).
 *
 * Faults apply only once the harness creates the spec's armedFile: while
 * attaching, losetup fsyncs the FUSE file (loop_configure -> fuse_fsync ->
 * NBD flush), and a device that hangs from byte 0 would hang the attach.
 *
 * Requests are serialized (THREAD_MODEL_SERIALIZE_ALL_REQUESTS): one hung
 * request holds back every other, which is how a wedged USB bridge behaves.
 */
export const NBDKIT_PLUGIN_SOURCE = `
import builtins, errno, json, os, threading
import nbdkit

API_VERSION = 2
spec = None
fd = -1
written = 0   # bytes written successfully; drives hangAfterBytesWritten
read = 0      # bytes read once armed; drives hangAfterBytesRead
armed = False


def config(key, value):
    global spec
    if key != 'spec':
        raise RuntimeError('unknown parameter ' + key)
    # builtins.open: this module's open() is the nbdkit callback below.
    with builtins.open(value) as f:
        spec = json.load(f)


def config_complete():
    global fd
    if spec is None:
        raise RuntimeError('spec=FILE is required')
    fd = os.open(spec['backingFile'], os.O_RDWR)


def thread_model():
    return nbdkit.THREAD_MODEL_SERIALIZE_ALL_REQUESTS


def open(readonly):
    return 1


def get_size(h):
    return spec['size']


def can_write(h):
    return True


def can_flush(h):
    return True


def can_multi_conn(h):
    return False


def fail(code):
    # set_error picks the errno the NBD client sees; without it, EIO.
    nbdkit.set_error(code)
    raise OSError(code, os.strerror(code))


def is_armed():
    global armed
    if not armed:
        armed = os.path.exists(spec['armedFile'])
    return armed


def injected(ranges, offset, count):
    if not is_armed():
        return 0
    for r in ranges or []:
        if offset < r['offset'] + r['length'] and r['offset'] < offset + count:
            return getattr(errno, r.get('errno') or 'EIO')
    return 0


def hang_if_due():
    # Blocks this request, and with it every later one, until nbdkit dies.
    limit = spec.get('hangAfterBytesWritten')
    read_limit = spec.get('hangAfterBytesRead')
    due = (limit is not None and written >= limit) or (read_limit is not None and read >= read_limit)
    if due and is_armed():
        threading.Event().wait()


def pieces(offset, count):
    # A counterfeit drive keeps only the low bits of the address: device
    # offset X lands at X mod backingSize in the backing file.
    backing = spec['backingSize']
    done = 0
    while done < count:
        at = (offset + done) % backing
        n = min(count - done, backing - at)
        yield at, done, n
        done += n


def pread(h, buf, offset, flags):
    global read
    hang_if_due()
    code = injected(spec.get('readErrors'), offset, len(buf))
    short = spec.get('shortAfter')
    if not code and short is not None and offset + len(buf) > short and is_armed():
        code = errno.EIO
    if code:
        fail(code)
    view = memoryview(buf)
    for at, pos, n in pieces(offset, len(buf)):
        data = os.pread(fd, n, at)
        view[pos:pos + len(data)] = data
        if len(data) < n:
            view[pos + len(data):pos + n] = bytes(n - len(data))
    if is_armed():
        read += len(buf)


def keep_old_where_lost(buf, offset):
    # A drive that lies: a write over a lostWrites range reports success, and
    # the old bytes stay there.
    if not is_armed():
        return buf
    for r in spec.get('lostWrites') or []:
        lo = max(offset, r['offset'])
        hi = min(offset + len(buf), r['offset'] + r['length'])
        if lo < hi:
            buf = bytearray(buf)
            for at, pos, n in pieces(lo, hi - lo):
                old = os.pread(fd, n, at)
                buf[lo - offset + pos:lo - offset + pos + n] = old + bytes(n - len(old))
    return buf


def pwrite(h, buf, offset, flags):
    global written
    hang_if_due()
    code = injected(spec.get('writeErrors'), offset, len(buf))
    short = spec.get('shortAfter')
    if not code and short is not None and offset + len(buf) > short and is_armed():
        code = errno.ENOSPC
    if code:
        fail(code)
    view = memoryview(keep_old_where_lost(buf, offset))
    for at, pos, n in pieces(offset, len(buf)):
        while n > 0:
            k = os.pwrite(fd, view[pos:pos + n], at)
            at, pos, n = at + k, pos + k, n - k
    written += len(buf)


def flush(h, flags):
    hang_if_due()
`;
