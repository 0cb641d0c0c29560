"""Ops on a CIM accelerator: matmuls tiled onto macros, the rest on the vector unit.

Tiling. A k x n weight matrix at b bits needs ceil(k / rows) x ceil(n / outs) macro tiles,
outs = cols // ceil(b / cell_bits). Each token row through the matrix is one MVM per tile;
an MVM takes `CimMacro.cycles_per_mvm(activation_bits)` cycles.

Weight-stationary (every weight of the model fits in the macros at once): all tiles of an
op run in parallel, so an op takes (MVMs per tile) x cycles.

Weight-streaming (it does not fit): weights stream from `weight_memory` into the macros
every step. With `double_buffer`, half the macros compute while the other half are
written, so compute, macro writes and the memory stream overlap; the op takes the
longest of the three. Without it they add up.

Streamed weights cross the NoC (from the memory controller to the tiles) and are staged in
the tile buffer before the macro's row drivers write them: their bytes go on the NoC tier
and their bits are charged one tile-buffer write (`energy_per_row_write` covers the write
into the cells, including reading the staged row out).

Scale groups: weights quantised with one scale per `weight_group_size` inputs (below 16 bits)
cannot be summed across groups before scaling, so one operation sums at most one group:
`rows_per_op` is capped at the group size (`grouped_accelerator`: 128-row adder trees run as
32-row operations at group 32, four times the operations, readouts and cycles per MVM; derived
periphery energies are derived at the capped height, given ones rescaled to it by
`CimMacro.with_rows_per_op`: array and group selection x g / rows_per_op, a digital adder tree
by its full-adder bits, an analog conversion unchanged). Per-channel scales (`weight_group_size: null`) leave the height alone. Each group's
partial sum of each output is then scaled and accumulated on the vector unit: token rows x n x
ceil(k / group) multiply-adds (per-channel: token rows x n), at its energy per op, their time
overlapping the macros' (the op takes the longer).

Partial sums: a k x n matmul spread over ceil(k / rows) row tiles sends each tile's n
partial sums over the NoC to be added; with scale groups shorter than a tile, each group's
(n x ceil(k / group), `psum_sends`), since each is scaled on the vector unit apart. Their
width is `psum_bytes`: the exact sum of `rows` products of a-bit activations and b-bit weights needs a + b + ceil(log2 rows) bits
(19 at A8 W4 over 128 rows), carried in 32-bit words up to 32 bits and 64-bit words above.
Assumption: the INT32 accumulator word of integer GEMM (e.g. INT8 dot products accumulate
in INT32 on GPUs and NPUs); narrower sums are not packed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slmsim.hw_models.cim import CimAccelerator, CimMacro
from slmsim.mapping.cost import Affine, Component, MappedOp, ctx_affine
from slmsim.mapping.placement import WeightSources
from slmsim.workloads.graph import Op, OpKind
from slmsim.workloads.scenario import Precision

PSUM_WORD_BYTES = 4  # assumption: the INT32 accumulator word of integer GEMM (module docstring)


def psum_bytes(activation_bits: int, weight_bits: int, rows: int) -> int:
    """Bytes of one partial sum on the NoC: the exact sum's bits, in 32-bit words (64 above 32 bits)."""
    bits = activation_bits + weight_bits + math.ceil(math.log2(max(rows, 1)))
    return PSUM_WORD_BYTES if bits <= 8 * PSUM_WORD_BYTES else 2 * PSUM_WORD_BYTES




@dataclass(frozen=True, slots=True)
class Tiling:
    row_tiles: int
    col_tiles: int
    instances: float  # weight matrices of this shape touched (experts: distinct experts)
    outs_per_macro: int

    @property
    def macro_tiles(self) -> float:
        return self.row_tiles * self.col_tiles * self.instances


def periphery_warnings(acc: CimAccelerator, device_name: str) -> tuple[str, ...]:
    """What a user should know about the macro's periphery (one sentence each)."""
    m = acc.macro
    if m.quantises_psums and m.adc_bits is not None:
        need = math.ceil(math.log2(m.column_sum_levels))
        return (f"device '{device_name}': the analog macro sums {m.rows_per_op} rows per operation into a "
                f"{m.adc_bits}-bit ADC, which resolves {m.exact_rows_per_op} exactly: partial sums are quantised "
                f"(an accuracy assumption; {need} ADC bits or psum_quantisation: false make it exact)",)
    return ()


def tiling(op: Op, acc: CimAccelerator, weight_bits: int) -> Tiling:
    outs = acc.macro.outputs_per_macro(weight_bits)
    if outs < 1:
        raise ValueError(f"a {weight_bits}-bit weight needs more columns than the macro has ({acc.macro.cols})")
    instances = op.weight_params / float(op.k * op.n)
    return Tiling(row_tiles=math.ceil(op.k / acc.macro.rows), col_tiles=math.ceil(op.n / outs),
                  instances=instances, outs_per_macro=outs)


def macro_tiles_needed(ops: tuple[Op, ...], acc: CimAccelerator, weight_bits: int) -> float:
    """Macros needed to hold every matmul weight at once (all layers)."""
    return sum(op.layers * tiling(op, acc, weight_bits).macro_tiles for op in ops if op.kind is OpKind.MATMUL)


def scale_group_rows(precision: Precision) -> int | None:
    """Inputs that share one weight scale (None: 16-bit weights or per-channel scales)."""
    if precision.weight_bits >= 16 or precision.weight_group_size is None:
        return None
    return precision.weight_group_size


def group_cap(acc: CimAccelerator, precision: Precision) -> int | None:
    """The rows one operation of `acc`'s macro is cut to by the weight scale groups (module
    docstring), or None when the groups are no shorter than its rows per operation."""
    g = scale_group_rows(precision)
    return g if g is not None and g < acc.macro.rows_per_op else None


def grouped_accelerator(acc: CimAccelerator, precision: Precision) -> CimAccelerator:
    """`acc` with its macro summing at most one scale group per operation (`group_cap`); `acc`
    itself when the groups do not cut it."""
    g = group_cap(acc, precision)
    if g is None:
        return acc
    return acc.model_copy(update={"macro": acc.macro.with_rows_per_op(g)})


def group_warnings(acc: CimAccelerator, device_name: str, precision: Precision) -> tuple[str, ...]:
    """Say when the weight scale groups cut the macro's rows per operation (one sentence)."""
    g = group_cap(acc, precision)
    if g is None:
        return ()
    r = acc.macro.rows_per_op
    return (f"device '{device_name}': one weight scale per {g} inputs: each operation sums {g} rows, not the "
            f"macro's {r} ({math.ceil(r / g)}x the cycles and readouts per MVM); per-channel scales "
            "(--group-size 0) use the full height (docs/mapping.md)",)


def scale_ops(token_rows: float, k: int, n: int, precision: Precision) -> float:
    """Vector-unit multiply-adds that scale a matmul's partial sums: one per output and scale group
    (per-channel: one per output); none for 16-bit weights."""
    if precision.weight_bits >= 16:
        return 0.0
    g = scale_group_rows(precision)
    return token_rows * n * (math.ceil(k / g) if g is not None else 1)


def psum_sends(k: int, row_tiles: int, precision: Precision) -> int:
    """Partial sums of each output that cross the NoC: one per row tile, or one per scale group
    when the groups are shorter than a tile (each is scaled on the vector unit apart)."""
    g = scale_group_rows(precision)
    return max(row_tiles, math.ceil(k / g)) if g is not None else row_tiles


def vector_rate_ops_per_s(acc: CimAccelerator) -> float:
    """Ops per second of the accelerator's one vector unit: lanes x ops per lane per cycle x clock."""
    vu = acc.vector_unit
    return vu.lanes * vu.ops_per_lane_per_cycle * acc.clock_hz


def matmul_unit_values(acc: CimAccelerator) -> tuple:
    """Every value of `acc` that `_matmul` and `tiling` read (with the op, device name, weight
    mode, sources, precision and stream bandwidth, the key of a memoised mapped op:
    `mapping.memo`). The effective macro follows from the macro, node and supply. Keep in step."""
    return (acc.macro, acc.technology_node_m, acc.supply_voltage_v, acc.tile_buffer, acc.macro_count,
            acc.double_buffer, acc.noc.multicast, PSUM_WORD_BYTES, acc.vector_unit, acc.clock_hz)


def vector_unit_values(acc: CimAccelerator) -> tuple:
    """Every value of `acc` that `_vector` reads (see `matmul_unit_values`). Keep in step."""
    return (acc.vector_unit, acc.clock_hz, acc.kv_tier, acc.global_buffer)


def map_on_cim(op: Op, *, acc: CimAccelerator, device_name: str, stationary: bool, precision: Precision,
               noc_tier: str, stream_bandwidth_bytes_per_s: float, sources: WeightSources,
               macro: CimMacro | None = None) -> MappedOp:
    """`macro`: `grouped_accelerator(acc, precision).effective_macro` when the caller already has it
    (it is derived on every access)."""
    if op.kind is OpKind.MATMUL:
        return _matmul(op, acc, device_name, stationary, precision, noc_tier, stream_bandwidth_bytes_per_s, sources,
                       macro)
    return _vector(op, acc, device_name, sources)


def _matmul(op: Op, acc: CimAccelerator, dev: str, stationary: bool, precision: Precision, noc_tier: str,
            stream_bandwidth_bytes_per_s: float, sources: WeightSources, macro: CimMacro | None = None) -> MappedOp:
    mac = macro if macro is not None else grouped_accelerator(acc, precision).effective_macro
    t = tiling(op, acc, precision.weight_bits)
    a_bits = precision.activation_bits
    cycles = mac.cycles_per_mvm(a_bits)
    token_rows = op.flops / (2.0 * op.k * op.n)  # token-matrix products (routed pairs for experts)
    mvms = token_rows * t.row_tiles * t.col_tiles  # one MVM per tile per token row
    tiles = max(t.macro_tiles, 1e-12)
    mvms_per_tile = mvms / tiles
    slices = mac.slices_per_weight(precision.weight_bits)
    used_cols = min(mac.cols, t.outs_per_macro * slices)
    energy = [
        (Component.CIM_ARRAY, Affine(mvms * mac.energy_per_mvm_j(a_bits, used_cols=0))),
        (Component.CIM_READOUT, Affine(mvms * (mac.energy_per_mvm_j(a_bits, used_cols=used_cols)
                                               - mac.energy_per_mvm_j(a_bits, used_cols=0)))),
        (Component.BUFFER, Affine(op.act_bytes * 8.0 * acc.tile_buffer.energy_per_bit_j)),
    ]
    psum = psum_bytes(precision.activation_bits, precision.weight_bits, mac.rows)
    copies = 1 if acc.noc.multicast else t.col_tiles  # input copies: one per column tile, or one multicast
    sends = psum_sends(op.k, t.row_tiles, precision)
    noc_bytes = token_rows * (op.k * precision.activation_bits / 8.0 * copies + op.n * psum * sends)
    tier_bytes: list[tuple[str, Affine]] = [(noc_tier, Affine(noc_bytes))]
    if op.kv_write_bytes:  # a projection whose outputs are stored as K/V (cross-attention K/V)
        tier_bytes.append((acc.kv_tier, Affine(op.kv_write_bytes)))
    rescale = scale_ops(token_rows, op.k, op.n, precision)
    if rescale:
        energy.append((Component.VECTOR_UNIT, Affine(rescale * acc.vector_unit.energy_per_op_j)))
    detail = [("macro_tiles", t.macro_tiles), ("utilisation", op.weight_params / (tiles * mac.rows * t.outs_per_macro)),
              ("cycles_per_mvm", float(cycles)), ("rows_per_op", float(mac.rows_per_op)), ("scale_ops", rescale)]
    if stationary:
        compute_s = mvms_per_tile * cycles / mac.clock_hz
    else:
        usable = acc.macro_count // 2 if acc.double_buffer else acc.macro_count
        rounds = math.ceil(tiles / max(usable, 1))
        compute = rounds * mvms_per_tile * cycles / mac.clock_hz
        write = rounds * mac.rows * mac.row_write_cycles / mac.clock_hz
        compute_s = max(compute, write) if acc.double_buffer else compute + write
        for tier, share in (*sources.reads(op.op_class), *sources.fills(op.op_class)):
            if share > 0:
                tier_bytes.append((tier, Affine(op.weight_bytes * share)))
        # the streamed weights cross the NoC to the tiles and are staged in the tile buffer
        tier_bytes[0] = (noc_tier, Affine(noc_bytes + op.weight_bytes))
        energy.append((Component.BUFFER, Affine(op.weight_bytes * 8.0 * acc.tile_buffer.energy_per_bit_j)))
        energy.append((Component.CIM_WEIGHT_WRITE, Affine(tiles * mac.rows * mac.energy_per_row_write_j)))
        detail += [("rounds", float(rounds))]
        if not acc.double_buffer:
            # without double buffering the stream cannot overlap the compute: charge it serially
            # (the bytes stay on the tier too, so the max() in MappedStep never hides them)
            compute_s += op.weight_bytes / stream_bandwidth_bytes_per_s
    compute_s = max(compute_s, rescale / vector_rate_ops_per_s(acc))
    return MappedOp(name=op.name, op_class=op.op_class.value, device=dev, unit="cim_macros", layers=op.layers,
                    overhead_s=0.0, compute_s=Affine(compute_s), tier_bytes=tuple(tier_bytes),
                    energy_j=tuple(energy), flops=Affine(op.flops), detail=tuple(detail),
                    kv_tier=acc.kv_tier if op.kv_write_bytes else "", kv_write_bytes=op.kv_write_bytes)


def _vector(op: Op, acc: CimAccelerator, dev: str, sources: WeightSources) -> MappedOp:
    vu = acc.vector_unit
    rate = vector_rate_ops_per_s(acc)
    flops = ctx_affine(op, op.flops, op.flops_per_ctx)
    tier_bytes: list[tuple[str, Affine]] = []
    kv = ctx_affine(op, op.kv_read_bytes + op.kv_write_bytes, op.kv_read_bytes_per_ctx)
    if kv.const or kv.grows:
        tier_bytes.append((acc.kv_tier, kv))
    if op.kind is OpKind.EMBEDDING:
        for tier, share in (*sources.reads(op.op_class), *sources.fills(op.op_class)):
            if share > 0:
                tier_bytes.append((tier, Affine(op.weight_bytes * share)))
    energy = (
        (Component.VECTOR_UNIT, flops.scaled(vu.energy_per_op_j)),
        (Component.BUFFER, Affine(op.act_bytes * 8.0 * acc.global_buffer.energy_per_bit_j)),
    )
    return MappedOp(name=op.name, op_class=op.op_class.value, device=dev, unit="vector_unit", layers=op.layers,
                    overhead_s=0.0, compute_s=flops.scaled(1.0 / rate), tier_bytes=tuple(tier_bytes), energy_j=energy,
                    flops=flops, kv_tier=acc.kv_tier if op.kv_write_bytes else "", kv_write_bytes=op.kv_write_bytes)
