"""The MNIST training session, jail side: the student's modules compute the gradients, nothing else.

The grader owns the training: the parameters it credits, the optimizer, the order of the
mini-batches and the test set. Two shared-memory files (memfds the grader created and sealed so
that the jail can neither shrink nor grow them) carry the bulk data: ``in`` (parameters and the
epochs' permutations; the grader's writes only, sealed against any write from the jail) and
``out`` (what the jail computes). Two modes:

* ``stream`` (the linear model and the MLP: SoftMax and CrossEntropy are the student's): the jail
  trains on its own copy of the parameters with dlcore's Adam and streams each step's gradients
  through a ring of ``slots`` in ``out``; the grader replays the same updates (the same code on the
  same float32 values: the same parameters, bit for bit) on its own parameters from those
  gradients, frees slots by sending credits, and recomputes a secret
  sample of the steps with the reference modules on *its* parameters. A jail that trains on
  anything but what it streams is caught there; the parameters scored are the grader's.
* ``sync`` (the CNN, whose LogSoftMax and NLLLoss are the course's and run in the grader): per step,
  ``F`` writes the logits (and the dropout mask), the grader writes the logits' gradient, ``B``
  writes the parameters' gradients; the grader updates the parameters in ``in`` (Adam).

Messages are small fixed-size binary records (a whole frame per step would cost more than the
linear model's step itself). Stream: jail -> grader 4 bytes every ``NOTIFY`` finished steps and
after the last (the index of the last finished step, or ``ERROR``, then a wire frame with the
message); grader -> jail 4 bytes of credit (slots freed).
Sync: grader -> jail 8 bytes ``op, 3 spare, step``; jail -> grader 16 bytes ``op, status (0 ok, 1
error: a wire frame follows), 6 spare, cost``. ``E`` ends either mode. When the session's process
ends, however it ends, the runner writes ``wire.ENDED``: read as a record, ``ENDED_STEP`` or an op of
``ENDED_OP``; the exit frame follows.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable

import numpy as np

from . import probes, wire
from .probes import StudentError, call, describe, need, number_array

REQUEST = struct.Struct(">c3xI")
REPLY = struct.Struct(">cB6xd")
STEP = struct.Struct(">I")
ERROR = 0xFFFFFFFF
ENDED_STEP = STEP.unpack(bytes([wire.END]) * STEP.size)[0]
ENDED_OP = bytes([wire.END])
NOTIFY = 8  # stream: steps per notification (fewer wake-ups of the grader)


def sizes(shapes: list[list[int]]) -> list[int]:
    return [int(np.prod(s, dtype=np.int64)) for s in shapes]


def views(buffer: np.ndarray, offset: int, shapes: list[list[int]], dtype=np.float32) -> list[np.ndarray]:
    """Arrays of ``shapes`` packed one after the other in ``buffer`` (bytes) from ``offset``."""
    out, itemsize = [], np.dtype(dtype).itemsize
    for shape, n in zip(shapes, sizes(shapes), strict=True):
        out.append(buffer[offset:offset + n * itemsize].view(dtype).reshape(shape))
        offset += n * itemsize
    return out


def slot_bytes(shapes: list[list[int]]) -> int:
    """One ring slot: the cost (float64), then every gradient (float32)."""
    return 8 + 4 * sum(sizes(shapes))


def build(impl, layers: list[list], dtype: np.dtype, rng: np.random.Generator) -> list:
    """The student's modules (and dlcore's given layers) for the grader's layer list."""
    from dlcore.pooling import MaxPool2d
    from dlcore.reshape import Flatten, Reshape

    given = {"MaxPool2d": MaxPool2d, "Flatten": Flatten, "Reshape": Reshape}
    model = []
    for spec in layers:
        kind, *shape = spec
        if kind in given:
            model.append(given[kind](*shape))
        elif kind in ("Linear", "Conv2d"):
            kwargs = {"padding": int(shape[3])} if kind == "Conv2d" else {}
            sizes_ = shape[:3] if kind == "Conv2d" else shape
            model.append(call(f"{kind}.__init__", need(impl, kind), *map(int, sizes_), rng=rng, dtype=dtype,
                              **kwargs))
        elif kind == "Dropout":
            model.append(call("Dropout.__init__", need(impl, kind), float(shape[0]), rng=rng))
        else:
            model.append(call(f"{kind}.__init__", need(impl, kind)))
    # The data's gradient is never used (as in dlcore.models.build_model): the first module, and the
    # CNN's first convolution behind its Reshape, may skip it.
    for m in model[:2 if layers[0][0] == "Reshape" else 1]:
        m.input_grad = False
    for m in model:
        if hasattr(m, "train"):
            call(f"{type(m).__name__}.train", m.train, True)
    return model


def _map(fd: int, writable: bool) -> np.ndarray:
    size = os.fstat(fd).st_size
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    return np.frombuffer(mmap.mmap(fd, size, prot=prot), dtype=np.uint8)


def _read_exact(fd: int, n: int, reader) -> bytes:
    data = bytes(reader.buffer[:n])  # what the frame reader had already buffered
    del reader.buffer[:len(data)]
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class _Model:
    """The student's modules as one chain, with what the grader needs of it."""

    def __init__(self, model: list, dtype: np.dtype, mask_out: np.ndarray | None) -> None:
        self.model, self.dtype, self.mask_out = model, dtype, mask_out
        self.owners = [m for m in model if type(m).__name__ in ("Linear", "Conv2d")]
        self.dropout = next((m for m in model if type(m).__name__ == "Dropout"), None)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for m in self.model:
            name = type(m).__name__
            y = number_array(call(f"{name}.fprop", m.fprop, x), f"{name}.fprop")
            if m is self.dropout and self.mask_out is not None:  # the mask it drew, for the grader's check
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.mask_out[...] = np.where(x != 0, y / np.where(x != 0, x, 1), 0)
            x = y
        return x

    def backward(self, g: np.ndarray) -> list[np.ndarray]:
        for m in reversed(self.model):
            g = call(f"{type(m).__name__}.bprop", m.bprop, g)
            if g is None:
                break
        return [number_array(gr, f"{type(m).__name__}.grads()") for m in self.owners
                for gr in call(f"{type(m).__name__}.grads", m.grads)]


def serve(impl, args: dict, reader, replies: int) -> None:
    from dlcore.data.idx import read_idx

    probes.CHANNEL = None  # no stage frames: steps speak the binary records
    dtype = np.dtype(args["dtype"])
    shapes = args["param_shapes"]
    shared_in, shared_out = _map(args["fd_in"], False), _map(args["fd_out"], True)
    mask = (views(shared_out, args["mask_offset"], [[args["batch_size"], args["hidden"]]])[0]
            if args.get("mask_offset") is not None else None)
    try:
        chain = _Model(build(impl, args["layers"], dtype, np.random.default_rng(int(args["seed"]))), dtype, mask)
        criterion = call("CrossEntropy.__init__", need(impl, "CrossEntropy")) if args["mode"] == "stream" else None
        initial = views(shared_in, 0, shapes)
        for k, m in enumerate(chain.owners):  # the course's names: W and b
            if args["mode"] == "stream":  # the jail trains its own copy
                m.W, m.b = initial[2 * k].copy(), initial[2 * k + 1].copy()
            else:  # the grader's parameters, which the jail can read but not write
                m.W, m.b = initial[2 * k], initial[2 * k + 1]
    except StudentError as exc:
        wire.write(replies, {"error": str(exc)})
        return
    images = read_idx(args["images"]).reshape(-1, 784).astype(dtype) / dtype.type(255)
    targets = np.eye(10, dtype=dtype)[read_idx(args["labels"]).astype(np.int64)]
    batch, n = int(args["batch_size"]), len(images)
    perms = shared_in[args["perms_offset"]:].view(np.int32)
    wire.write(replies, {"ready": True})
    try:
        if args["mode"] == "stream":
            _stream(chain, criterion, images, targets, perms, args, shared_out, reader, replies, batch, n)
        else:
            _sync(chain, images, targets, perms, args, shared_in, shared_out, reader, replies, batch)
    except (StudentError, ValueError, TypeError, IndexError) as exc:
        message = str(exc) if isinstance(exc, StudentError) else describe(exc)
        if args["mode"] == "stream":
            os.write(replies, STEP.pack(ERROR))
        else:
            os.write(replies, REPLY.pack(b"?", 1, 0.0))
        wire.write(replies, {"error": message})


class Stepped:
    """What dlcore's optimizers need of a model, for a loop that owns no model: ``params()``, read anew at
    every step, and ``grads()``, the gradients the loop set for this step (``gradients``). The grader
    steps its shared-memory parameters with it; the jail, its own copy (each module's current ``W``
    and ``b``, as the student's code holds them)."""

    def __init__(self, params: Callable[[], list[np.ndarray]]) -> None:
        self._params, self.gradients = params, []

    def params(self) -> list[np.ndarray]:
        return self._params()

    def grads(self) -> list[np.ndarray]:
        return self.gradients


def _stream(chain, criterion, images, targets, perms, args, shared_out, reader, replies, batch, n) -> None:
    from dlcore.optim import Adam

    shapes, slots = args["param_shapes"], int(args["slots"])
    own = Stepped(lambda: [p for m in chain.owners for p in (m.W, m.b)])
    optimizer = Adam(own, float(args["lr"]))
    size = slot_bytes(shapes)
    steps = int(args["steps_per_epoch"])
    credits, total = slots, int(args["epochs"]) * steps
    for step in range(total):
        while credits == 0:
            (freed,) = STEP.unpack(_read_exact(reader.fd, STEP.size, reader))
            credits += freed
        epoch, s = divmod(step, steps)
        rows = perms[epoch * n + s * batch:epoch * n + (s + 1) * batch]
        y = chain.forward(images[rows])
        cost = number_array(call("CrossEntropy.fprop", criterion.fprop, y, targets[rows]), "CrossEntropy.fprop")
        grads = chain.backward(call("CrossEntropy.bprop", criterion.bprop))
        slot = shared_out[(step % slots) * size:(step % slots + 1) * size]
        slot[:8].view(np.float64)[0] = float(cost.reshape(-1)[0]) if cost.size else np.nan
        written = views(slot, 8, shapes)
        for view, g in zip(written, grads, strict=True):
            view[...] = g  # a gradient of the wrong shape raises here: the student's error
        own.gradients = written  # the float32 values the grader reads
        optimizer.step()
        credits -= 1
        if (step + 1) % NOTIFY == 0 or step == total - 1:
            os.write(replies, STEP.pack(step))
    while REQUEST.unpack(_read_exact(reader.fd, REQUEST.size, reader))[0] != b"E":
        pass


def _sync(chain, images, targets, perms, args, shared_in, shared_out, reader, replies, batch) -> None:
    shapes = args["param_shapes"]
    logits = views(shared_out, args["logits_offset"], [[batch, 10]])[0]
    grad_logits = views(shared_in, args["grad_logits_offset"], [[batch, 10]])[0]
    grads_out = views(shared_out, 0, shapes)
    while True:
        op, step = REQUEST.unpack(_read_exact(reader.fd, REQUEST.size, reader))
        if op == b"E":
            return
        rows = perms[step * batch:(step + 1) * batch]
        if op == b"F":
            logits[...] = chain.forward(images[rows])
        elif op == b"B":
            for view, g in zip(grads_out, chain.backward(grad_logits.copy()), strict=True):
                view[...] = g
        os.write(replies, REPLY.pack(op, 0, 0.0))
