"""The script's source as data: parsing it, and the literal values, dotted names and strings its
expressions spell. Nothing here is executed: constant arithmetic is folded by walking the tree."""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst


class ScriptError(ValueError):
    """The script cannot be read (e.g. a syntax error); the message says where."""


def parse(source: str, filename: str = "<script>") -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        # Python's own parser words syntax errors the way users know them ("expected ':'").
        try:
            ast.parse(source)
        except SyntaxError as plain:
            raise ScriptError(f"{filename}:{plain.lineno}: syntax error: {plain.msg}") from None
        raise ScriptError(f"{filename}:{error.raw_line}: syntax error: {error.message}") from None


def literal(module: cst.Module, node: cst.CSTNode) -> Any:
    """The number, string or bool ``node`` spells; None for anything else."""
    if isinstance(node, cst.BinaryOperation):  # 2**19, 3 * 1024: read as their value
        try:
            return arithmetic(ast.parse(module.code_for_node(node).strip(), mode="eval").body)
        except (SyntaxError, ValueError, OverflowError, ZeroDivisionError, RecursionError):
            return None
    if not isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.Name,
                             cst.UnaryOperation, cst.ConcatenatedString)):
        return None
    try:
        value = ast.literal_eval(module.code_for_node(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float, str, bool)) else None


_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b}


def arithmetic(node: ast.expr) -> int | float | None:
    """The value of constant arithmetic (numbers, + - * / // and small powers); None otherwise.
    Nothing is executed: the tree is walked, and powers are bounded so 10**10**10 cannot hang."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = arithmetic(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        left, right = arithmetic(node.left), arithmetic(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return left**right if abs(right) <= 64 and abs(left) <= 1e6 else None
        operation = _ARITHMETIC.get(type(node.op))
        return operation(left, right) if operation else None
    return None


def dotted(node: cst.BaseExpression) -> str:
    """``torch.optim.AdamW`` for that attribute chain; "" for anything but names and attributes."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return ""


def string_value(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def strings(node: cst.BaseExpression | None) -> list[str] | None:
    """The items of a literal list, tuple or set of strings; None for anything else."""
    if not isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return None
    items = [string_value(e.value) for e in node.elements]
    return [i for i in items if i is not None] if items and None not in items else None


def keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    """The value passed to ``call`` as ``name=``, if any."""
    return next((a.value for a in call.args if a.keyword and a.keyword.value == name), None)
