#!/usr/bin/env python3
# Live-kernel oracle for the arena model tests: creates a BPF arena map, mmaps it, and runs a sequence of
# operations (kfunc calls from a BPF_PROG_TYPE_SYSCALL program via BPF_PROG_TEST_RUN, user-space reads and
# writes through the mmap). Reads a JSON list of scenarios on stdin, prints a JSON list of results.
# Needs root (or CAP_BPF+CAP_PERFMON) and a kernel with arena support; prints {"skip": reason} otherwise.
# Integers may be given as decimal strings or as "U+n" (user_vm_start + n); integer results are decimal strings.
import ctypes, ctypes.util, errno, json, os, struct, sys

libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.process_vm_readv.restype = ctypes.c_ssize_t
libc.process_vm_writev.restype = ctypes.c_ssize_t
NR_BPF = 321
MAP_CREATE, PROG_LOAD, PROG_TEST_RUN = 0, 5, 10
ARENA, SYSCALL_PROG = 33, 31
PAGE = 4096


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    r = libc.syscall(NR_BPF, cmd, buf, len(attr))
    return (r, 0) if r >= 0 else (-1, ctypes.get_errno())


def btf_func_ids(names):
    data = open('/sys/kernel/btf/vmlinux', 'rb').read()
    magic, ver, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<HBBIIIII', data, 0)
    types = data[hdr_len + type_off: hdr_len + type_off + type_len]
    strs = data[hdr_len + str_off: hdr_len + str_off + str_len]
    extra = {1: 4, 3: 12, 14: 4, 17: 4}
    per = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    out, pos, tid = {}, 0, 1
    while pos < len(types):
        name_off, info, _ = struct.unpack_from('<III', types, pos)
        kind, vlen = (info >> 24) & 0x1f, info & 0xffff
        if kind == 12:
            end = strs.index(b'\0', name_off)
            n = strs[name_off:end].decode()
            if n in names:
                out[n] = tid
        pos += 12 + extra.get(kind, 0) + per.get(kind, 0) * vlen
        tid += 1
    return out


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack('<BBhi', code, dst | (src << 4), off, imm & 0xffffffff if imm >= 0 else imm)


def program(map_fd, ids):
    # ctx: u64 op, a, b, c, d, result. op 0 alloc(a,b,c,d) 1 free(a,b) 2 reserve(a,b) 3 kwrite(a,b) 4 kread(a)
    ld_map = insn(0x18, 1, 1, 0, map_fd) + insn(0)
    args = lambda n: b''.join(insn(0x79, 2 + i, 6, 8 + 8 * i) for i in range(n))
    store_res = insn(0x7b, 6, 0, 40)
    ret0 = insn(0xb7, 0, 0, 0, 0) + insn(0x95)
    blocks = [
        ld_map + args(4) + insn(0x85, 0, 2, 0, ids['bpf_arena_alloc_pages']) + store_res + ret0,
        ld_map + args(2) + insn(0x85, 0, 2, 0, ids['bpf_arena_free_pages']) + ret0,
        ld_map + args(2) + insn(0x85, 0, 2, 0, ids['bpf_arena_reserve_pages']) + store_res + ret0,
        insn(0x79, 1, 6, 8) + insn(0xbf, 1, 1, 1, 1) + insn(0x79, 2, 6, 16) + insn(0x7b, 1, 2, 0) + ret0,
        insn(0x79, 1, 6, 8) + insn(0xbf, 1, 1, 1, 1) + insn(0x79, 2, 1, 0) + insn(0x7b, 6, 2, 40) + ret0,
    ]
    head_len = 2 + len(blocks)  # mov r6,r1; ldx op; one jeq per block
    code = insn(0xbf, 6, 1) + insn(0x79, 1, 6, 0)
    # jeq r1, k, +off: targets are laid out after the dispatch (the last jeq falls through to an exit)
    pos = head_len + 2  # after dispatch + fallthrough "r0=0; exit"
    jumps = b''
    for k, b in enumerate(blocks):
        here = 2 + k
        jumps += insn(0x15, 1, 0, pos - (here + 1), k)
        pos += len(b) // 8
    return code + jumps + ret0 + b''.join(blocks)


def run_scenario(sc, ids):
    pages, flags, extra = sc['pages'], sc.get('flags', 0) | (1 << 10) * (0 if sc.get('no_mmapable') else 1), int(sc.get('map_extra', 0))
    attr = struct.pack('<IIIIIII16sIIIIIQ', ARENA, sc.get('key_size', 0), sc.get('value_size', 0), pages, flags,
                       0, 0, b'arena', 0, 0, 0, 0, 0, extra) + bytes(56)
    fd, err = bpf(MAP_CREATE, attr)
    if fd < 0:
        return {'create_errno': errno.errorcode.get(err, str(err))}
    res = {'create_errno': None}
    try:
        length = sc.get('mmap_len', pages * PAGE)
        addr = int(sc.get('mmap_addr', extra))
        mflags = 1 | (0x10 if addr else 0)
        base = libc.mmap(addr or None, length, 3, mflags, fd, 0)
        if base is None or base == ctypes.c_void_p(-1).value or base == (1 << 64) - 1:
            res['mmap_errno'] = errno.errorcode.get(ctypes.get_errno(), '?')
            base = 0
        res['user_vm_start'] = str(base)
        prog = program(fd, ids)
        lic = ctypes.create_string_buffer(b'GPL')
        pbuf = ctypes.create_string_buffer(prog, len(prog))
        log = ctypes.create_string_buffer(1 << 16)
        pattr = struct.pack('<IIQQIIQII', SYSCALL_PROG, len(prog) // 8, ctypes.addressof(pbuf), ctypes.addressof(lic),
                            1, len(log), ctypes.addressof(log), 0, 1 << 4) + bytes(80)
        pfd, err = bpf(PROG_LOAD, pattr)
        if pfd < 0:
            res['load_error'] = errno.errorcode.get(err, str(err)) + ': ' + log.value.decode()[-2000:]
            return res
        out = []
        for op in sc['ops']:
            r = do_op(op, pfd, base, length)
            out.append(str(r) if isinstance(r, int) and not isinstance(r, bool) else r)  # u64 values exceed 2^53
        res['results'] = out
        os.close(pfd)
        if base:
            libc.munmap(base, length)
        return res
    finally:
        os.close(fd)


class IoVec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]


def vm_rw(write, addr, data_or_len):
    n = len(data_or_len) if write else data_or_len
    buf = ctypes.create_string_buffer(bytes(data_or_len) if write else n, n)
    local, remote = IoVec(ctypes.addressof(buf), n), IoVec(addr, n)
    f = libc.process_vm_writev if write else libc.process_vm_readv
    r = f(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if r < 0:
        return None
    return buf.raw[:r]


def test_run(pfd, vals):
    ctx = ctypes.create_string_buffer(struct.pack('<6Q', *[v & (2**64 - 1) for v in vals]), 48)
    # syscall programs take ctx_in only (no repeat, no ctx_out): the kernel copies the ctx back into ctx_in
    attr = struct.pack('<IIIIQQIIIIQQ', pfd, 0, 0, 0, 0, 0, 0, 0, 48, 0, ctypes.addressof(ctx), 0) + bytes(64)
    r, err = bpf(PROG_TEST_RUN, attr)
    if r < 0:
        raise OSError(err, 'test_run')
    return struct.unpack('<6Q', ctx.raw)[5]


def do_op(op, pfd, base, length):
    k = op['op']
    def g(name):  # "U+n": user_vm_start + n (addresses chosen by the kernel's mmap)
        v = op.get(name, 0)
        return base + int(v[2:]) if isinstance(v, str) and v.startswith('U+') else int(v)
    if k == 'alloc':
        return test_run(pfd, [0, g('hint'), g('cnt'), g('node'), g('flags'), 0])
    if k == 'free':
        test_run(pfd, [1, g('ptr'), g('cnt'), 0, 0, 0])
        return None
    if k == 'reserve':
        r = test_run(pfd, [2, g('ptr'), g('cnt'), 0, 0, 0])
        return r - (1 << 64) if r >= 1 << 63 else r
    if k == 'kwrite':
        test_run(pfd, [3, g('ptr'), g('val'), 0, 0, 0])
        return None
    if k == 'kread':
        return test_run(pfd, [4, g('ptr'), 0, 0, 0, 0])
    if k == 'uread':
        d = vm_rw(False, g('addr'), g('len'))
        return None if d is None else d.hex()
    if k == 'uwrite':
        return vm_rw(True, g('addr'), bytes.fromhex(op['hex'])) is not None
    if k == 'probe':  # which pages can user space see without faulting them in (meaningful with SEGV_ON_FAULT)
        return [i for i in range(length // PAGE) if vm_rw(False, base + i * PAGE, 1) is not None]
    raise ValueError(k)


def main():
    scenarios = json.load(sys.stdin)
    try:
        ids = btf_func_ids({'bpf_arena_alloc_pages', 'bpf_arena_free_pages', 'bpf_arena_reserve_pages'})
    except OSError as e:
        print(json.dumps({'skip': f'cannot read /sys/kernel/btf/vmlinux: {e}'}))
        return
    if len(ids) < 3:
        print(json.dumps({'skip': f'kernel lacks arena kfuncs (found {sorted(ids)})'}))
        return
    try:
        probe = run_scenario({'pages': 1, 'ops': [{'op': 'alloc', 'cnt': 1}]}, ids)
    except OSError as e:
        probe = {'error': str(e)}
    if probe.get('create_errno') or probe.get('mmap_errno') or probe.get('load_error') or not probe.get('results'):
        print(json.dumps({'skip': f'cannot create, mmap or use an arena here: {probe}'[:500]}))
        return
    results = []
    for sc in scenarios:
        try:
            results.append(run_scenario(sc, ids))
        except OSError as e:
            print(json.dumps({'skip': f'bpf() not permitted: {e}'}))
            return
    print(json.dumps({'results': results}))


main()
