"""A few explicit SIMD operations for numba kernels: LLVM vectors of a fixed lane count as numba values.

numba vectorizes loops, not the straight-line work on one pixel's C channels, and its SLP vectorizer (off by
default since numba#8852) shuffles lanes when several accumulators interact. These types and intrinsics let
a kernel say what it means: load a pixel's C probabilities as one ``<C x float>``, combine vectors lane by
lane, compare, select, store. LLVM lowers a vector of any lane count to the registers the CPU has (a 21-lane
vector is one 16-lane and one 8-lane register with AVX-512, three 8-lane ones with AVX2), so one kernel
source serves every instruction set; the host's is picked when numba compiles.

Arithmetic operators (``+ - *``) work on float vectors, and on a vector with a scalar of its dtype, so a
scalar numba function written with them (such as :func:`albench.uncertainty.bernoulli_variance`) compiles
for vectors too.
"""

from __future__ import annotations

import operator
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models
from numba.extending import intrinsic, overload, register_model

__all__ = [
    "Vector",
    "as_int32",
    "bitmask_ge",
    "bitwise_and",
    "bitwise_or",
    "element",
    "load",
    "load_row",
    "lowest_set_bit",
    "max_reduce",
    "maximum",
    "min_reduce",
    "minimum",
    "or_reduce",
    "prefetch",
    "select_greater",
    "splat",
    "store_row",
    "subtract",
    "unsigned_max_reduce4",
    "unsigned_maximum",
]


class Vector(types.Type):
    """``lanes`` values of ``dtype`` (float32 or int32) in one LLVM vector."""

    def __init__(self, dtype: Any, lanes: int) -> None:
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vector({dtype}, {lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Vector) -> None:
        element_type = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element_type, fe_type.lanes))  # type: ignore[no-untyped-call]


def _integers(*vectors: Any) -> None:
    """Refuse anything but int32 vectors of one lane count (the integer operations' operands)."""
    if not all(isinstance(v, Vector) and v.dtype == types.int32 and v.lanes == vectors[0].lanes for v in vectors):
        raise TypeError(f"expected int32 vectors of one lane count, got {', '.join(map(str, vectors))}")


def _lanes(value: Any) -> int:
    if isinstance(value, types.IntegerLiteral):
        return int(value.literal_value)
    raise TypeError("the lane count must be a compile-time constant")


def _pointer(context: Any, builder: Any, array_type: Any, array: Any, row: Any, column: Any) -> Any:
    proxy = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, proxy, [row, column])  # type: ignore[no-untyped-call]


def _load(typingctx: Any, array: Any, row: Any, column: Any, count: Any, lanes: Any) -> Any:
    """``array[row, column : column + count]`` (a 2-D C-contiguous array) in the first lanes of a
    ``lanes``-lane vector, zeros after: one masked load, which reads nothing past ``count`` elements."""
    width = _lanes(lanes)
    vector_type = Vector(array.dtype, width)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1], args[2])
        llvm_type = context.get_value_type(vector_type)
        index_type = ir.IntType(32)
        mask_type = ir.VectorType(index_type, width)
        lane_ids = ir.Constant(mask_type, [ir.Constant(index_type, i) for i in range(width)])
        single = builder.insert_element(
            ir.Constant(mask_type, ir.Undefined), builder.trunc(args[3], index_type), ir.Constant(index_type, 0)
        )
        mask = builder.icmp_signed("<", lane_ids, builder.shuffle_vector(single, single, ir.Constant(mask_type, 0)))
        suffix = "f32" if array.dtype == types.float32 else "i32"
        function_type = ir.FunctionType(llvm_type, [llvm_type.as_pointer(), index_type, mask.type, llvm_type])
        name = f"llvm.masked.load.v{width}{suffix}.p0"
        function = cgutils.get_or_insert_function(builder.module, function_type, name)  # type: ignore[no-untyped-call]
        return builder.call(
            function,
            [
                builder.bitcast(pointer, llvm_type.as_pointer()),
                ir.Constant(index_type, 4),
                mask,
                ir.Constant(llvm_type, None),
            ],
        )

    return vector_type(array, row, column, count, lanes), codegen


def _load_row(typingctx: Any, array: Any, row: Any, column: Any, lanes: Any) -> Any:
    """``array[row, column : column + lanes]`` (a 2-D C-contiguous array) as a vector: a plain load."""
    vector_type = Vector(array.dtype, _lanes(lanes))

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1], args[2])
        llvm_type = context.get_value_type(vector_type)
        return builder.load(builder.bitcast(pointer, llvm_type.as_pointer()), align=4)

    return vector_type(array, row, column, lanes), codegen


def _store_row(typingctx: Any, array: Any, row: Any, column: Any, vector: Any) -> Any:
    """Write ``vector`` over ``array[row, column : column + lanes]``."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1], args[2])
        builder.store(args[3], builder.bitcast(pointer, args[3].type.as_pointer()), align=4)
        return context.get_dummy_value()

    return types.none(array, row, column, vector), codegen


def _splat(typingctx: Any, value: Any, lanes: Any) -> Any:
    """``value`` in every lane."""
    vector_type = Vector(value, _lanes(lanes))

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        llvm_type = context.get_value_type(vector_type)
        single = builder.insert_element(ir.Constant(llvm_type, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(single, single, ir.Constant(ir.VectorType(ir.IntType(32), vector_type.lanes), 0))

    return vector_type(value, lanes), codegen


def _as_int32(typingctx: Any, vector: Any) -> Any:
    """The float32 lanes' bits as int32 lanes."""
    result = Vector(types.int32, vector.lanes)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(vector), codegen


def _int_binary(name: str) -> Any:
    def build(builder: Any, left: Any, right: Any) -> Any:
        if name == "and":
            return builder.and_(left, right)
        if name == "or":
            return builder.or_(left, right)
        if name == "sub":
            return builder.sub(left, right)
        if name == "umax":
            return builder.select(builder.icmp_unsigned(">", left, right), left, right)
        above = builder.icmp_signed(">" if name == "max" else "<", left, right)
        return builder.select(above, left, right)

    @intrinsic
    def operation(typingctx: Any, left: Any, right: Any) -> Any:
        _integers(left, right)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return build(builder, args[0], args[1])

        return left(left, right), codegen

    return operation


bitwise_and = _int_binary("and")
bitwise_or = _int_binary("or")
subtract = _int_binary("sub")
maximum = _int_binary("max")
minimum = _int_binary("min")
#: The lane-wise maximum of int32 lanes read as *unsigned*: codes with the sign bit set (negative keys) win.
unsigned_maximum = _int_binary("umax")


def _select_greater(typingctx: Any, left: Any, right: Any, chosen: Any, other: Any) -> Any:
    """``chosen`` where ``left > right`` (signed int lanes), else ``other``."""
    _integers(left, right)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.select(builder.icmp_signed(">", args[0], args[1]), args[2], args[3])

    return chosen(left, right, chosen, other), codegen


def _bitmask_ge(typingctx: Any, left: Any, right: Any) -> Any:
    """An int64 with bit l set where lane l of ``left`` ≥ that of ``right`` (signed int lanes, ≤ 64 lanes)."""
    _integers(left, right)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        lanes = signature.args[0].lanes
        bits = builder.bitcast(builder.icmp_signed(">=", args[0], args[1]), ir.IntType(lanes))
        return builder.zext(bits, ir.IntType(64)) if lanes < 64 else bits

    return types.int64(left, right), codegen


def _reduction(operation: str) -> Any:
    @intrinsic
    def reduce(typingctx: Any, vector: Any) -> Any:
        _integers(vector)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            vector_type = args[0].type
            function_type = ir.FunctionType(vector_type.element, [vector_type])
            name = f"llvm.vector.reduce.{operation}.v{vector_type.count}i32"
            function = cgutils.get_or_insert_function(builder.module, function_type, name)  # type: ignore[no-untyped-call]
            return builder.call(function, [args[0]])

        return vector.dtype(vector), codegen

    return reduce


#: The OR, the (signed) maximum and minimum, of all int32 lanes.
or_reduce = _reduction("or")
max_reduce = _reduction("smax")
min_reduce = _reduction("smin")


def _unsigned_max_reduce4(typingctx: Any, first: Any, second: Any, third: Any, fourth: Any) -> Any:
    """The maxima of four 16-lane int32 vectors, lanes read as unsigned, as one 4-lane vector, in a shuffle
    tree: 8 shuffles and 4 maxima where four separate reductions take 32 operations."""
    _integers(first, second, third, fourth)
    if first.lanes != 16:
        raise TypeError("unsigned_max_reduce4 takes four 16-lane vectors")
    result = Vector(first.dtype, 4)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        index = ir.IntType(32)

        def shuffle(left: Any, right: Any, lanes: list[int]) -> Any:
            return builder.shuffle_vector(
                left, right, ir.Constant(ir.VectorType(index, len(lanes)), [ir.Constant(index, i) for i in lanes])
            )

        def larger(left: Any, right: Any) -> Any:
            return builder.select(builder.icmp_unsigned(">", left, right), left, right)

        def halve(left: Any, right: Any, low: list[int], high: list[int]) -> Any:
            return larger(shuffle(left, right, low), shuffle(left, right, high))

        # 16 + 16 lanes → 8 partial maxima of each input (the two halves of each vector folded).
        ab = halve(args[0], args[1], [*range(0, 8), *range(16, 24)], [*range(8, 16), *range(24, 32)])
        cd = halve(args[2], args[3], [*range(0, 8), *range(16, 24)], [*range(8, 16), *range(24, 32)])
        # → 4 partial maxima of each of the four inputs, then 2, then 1.
        four = halve(
            ab,
            cd,
            [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27],
            [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31],
        )
        two = halve(four, four, [0, 1, 4, 5, 8, 9, 12, 13], [2, 3, 6, 7, 10, 11, 14, 15])
        return halve(two, two, [0, 2, 4, 6], [1, 3, 5, 7])

    return result(first, second, third, fourth), codegen


def _element(typingctx: Any, vector: Any, lane: Any) -> Any:
    """Lane ``lane`` (a run-time index) of ``vector``."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.extract_element(args[0], args[1])

    return vector.dtype(vector, lane), codegen


def _prefetch(typingctx: Any, array: Any, row: Any, column: Any) -> Any:
    """Ask the CPU to bring ``array[row, column]``'s cache line in (no effect on results; may be past the end)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        proxy = context.make_array(array_type)(context, builder, args[0])
        data = builder.bitcast(proxy.data, ir.IntType(8).as_pointer())
        strides = cgutils.unpack_tuple(builder, proxy.strides, count=2)  # type: ignore[no-untyped-call]
        offset = builder.add(builder.mul(args[1], strides[0]), builder.mul(args[2], strides[1]))
        pointer = builder.gep(data, [offset])
        function_type = ir.FunctionType(ir.VoidType(), [pointer.type, *[ir.IntType(32)] * 3])
        prefetch = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
        i32 = ir.IntType(32)
        builder.call(prefetch, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(array, row, column), codegen


def _lowest_set_bit(typingctx: Any, mask: Any) -> Any:
    """The index of the lowest set bit of a non-zero int64 (LLVM's cttz: one instruction)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        function_type = ir.FunctionType(ir.IntType(64), [ir.IntType(64), ir.IntType(1)])
        cttz = builder.module.declare_intrinsic("llvm.cttz.i64", fnty=function_type)
        return builder.call(cttz, [args[0], ir.Constant(ir.IntType(1), 0)])

    return types.int64(types.int64), codegen


def _float_binary(name: str) -> Any:
    @intrinsic
    def operation(typingctx: Any, left: Any, right: Any) -> Any:
        vector_type = left if isinstance(left, Vector) else right

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            llvm_type = context.get_value_type(vector_type)
            operands = []
            for value, kind in zip(args, signature.args, strict=True):
                if isinstance(kind, Vector):
                    operands.append(value)
                else:  # a scalar: broadcast it
                    single = builder.insert_element(
                        ir.Constant(llvm_type, ir.Undefined), value, ir.Constant(ir.IntType(32), 0)
                    )
                    mask = ir.Constant(ir.VectorType(ir.IntType(32), vector_type.lanes), 0)
                    operands.append(builder.shuffle_vector(single, single, mask))
            return {"add": builder.fadd, "sub": builder.fsub, "mul": builder.fmul}[name](*operands)

        return vector_type(left, right), codegen

    return operation


# numba intrinsics, typed Any for mypy (their call signature is not the typing function's).
load: Any = intrinsic(prefer_literal=True)(_load)
load_row: Any = intrinsic(prefer_literal=True)(_load_row)
store_row: Any = intrinsic(_store_row)
splat: Any = intrinsic(prefer_literal=True)(_splat)
as_int32: Any = intrinsic(_as_int32)
select_greater: Any = intrinsic(_select_greater)
bitmask_ge: Any = intrinsic(_bitmask_ge)
unsigned_max_reduce4: Any = intrinsic(_unsigned_max_reduce4)
element: Any = intrinsic(_element)
lowest_set_bit: Any = intrinsic(_lowest_set_bit)
prefetch: Any = intrinsic(_prefetch)


def _vector_implementation(left: Any, right: Any, implementation: Any) -> Any:
    """The implementation of an arithmetic operator on float32 vectors (and float32 scalars), else ``None``."""
    vectors = [t for t in (left, right) if isinstance(t, Vector)]
    if not vectors or vectors[0].dtype != types.float32:
        return None
    if any(not isinstance(t, Vector) and t != types.float32 for t in (left, right)):
        return None  # other scalar types would change the arithmetic's precision
    return lambda left, right: implementation(left, right)


def _typer(implementation: Any) -> Any:
    # A lambda: numba compares the typing function's signature with the implementation's, annotations included.
    return lambda left, right: _vector_implementation(left, right, implementation)


for _operator, _name in ((operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul")):
    overload(_operator)(_typer(_float_binary(_name)))
