"""Adapters: another app's OSC messages as robojam's, and robojam's part back in the app's form.

A preset's ``[adapter]`` table holds rules, applied in file order. Every rule
whose address matches contributes one message; a message no rule matches
passes through unchanged, so robojam's own ``/robojam/*`` messages (touches,
controls, responses) keep working alongside a preset unless a rule maps them.
``args`` and ``pairs`` always describe the other app's message; robojam's side
is named as in server/PROTOCOL.md (``x``, ``y``, ``z``, ``mode``, ...)::

    [[adapter.in]]                  # the app's message -> robojam's
    address = "/1/multixy1/{finger}"  # exact, or {name} parts capturing a path part
    args = ["x", "y"]               # names of the app's arguments in order; "_" skips one
    # pairs = true                  # instead of args: name/value pairs, "/x" 0.5 "/y" 0.2
    flip = ["y"]                    # value -> 1 - value (an app with y = 0 at the bottom)
    when = {finger = 1}             # only when these names have these values
    to = "/robojam/touch"           # robojam's message, its arguments taken by name

    [[adapter.out]]                 # robojam's message -> the app's
    from = "/robojam/response/touch"
    address = "/1/xy2"
    args = ["x", "y"]               # names from robojam's message, or numbers sent as they are
    # pairs = true                  # send "/x" x "/y" y ...
    flip = ["y"]

A path part captured by ``{name}`` that is a whole number is a number
(``when = {finger = 1}``). ``when`` compares the app's values before ``flip``;
OSC true and false count as 1 and 0 there. A message a rule matches but cannot
translate (too few arguments, a wrong type, NaN, a missing pair) is dropped
and counted in ``dropped``; it never raises. A message no rule matches and
robojam does not know reaches the server, which counts it as
``unknown_address`` in ``/robojam/status``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from robojam import RobojamError
from robojam.live.protocol import ADDRESSES, OUTGOING

Messages = list[tuple[str, list]]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SKIP = "_"
IN_KEYS = {"address", "args", "pairs", "flip", "when", "to"}
OUT_KEYS = {"from", "address", "args", "pairs", "flip", "when"}


def _outgoing_arguments() -> dict[str, list[str]]:
    """robojam's outgoing addresses and their argument names (a variable list has none)."""
    table = {}
    for signature, _ in OUTGOING:
        path, *names = signature.split()
        table[path] = [] if "..." in names else names
    return table


RESPONSES = _outgoing_arguments()


@dataclass
class Rule:
    """One ``[[adapter.in]]`` or ``[[adapter.out]]`` table, checked."""

    where: str                      # "adapter.in[2]", for messages
    address: str                    # the app's address (a pattern for in-rules)
    robojam: str                    # robojam's address: "to" of an in-rule, "from" of an out-rule
    args: list = field(default_factory=list)  # names (or, out, literal numbers)
    pairs: bool = False
    flip: list[str] = field(default_factory=list)
    when: dict = field(default_factory=dict)
    matcher: re.Pattern | None = None


class Adapter:
    """Translates OSC between another app and robojam by a preset's rules."""

    def __init__(self, rules_in: list[Rule], rules_out: list[Rule]):
        self.rules_in = rules_in
        self.rules_out = rules_out
        self.dropped = 0  # messages a rule matched but could not translate

    @classmethod
    def from_config(cls, table: dict, source: str = "preset") -> Adapter:
        """An adapter from a preset's ``[adapter]`` table; RobojamError says what is wrong."""
        if not isinstance(table, dict):
            raise RobojamError(f"{source}: [adapter] must be a table")
        _no_unknown_keys(table, {"in", "out"}, f"{source}: [adapter]")
        rules_in = [_rule_in(rule, f"{source}: adapter.in[{i}]")
                    for i, rule in enumerate(_tables(table, "in", source), 1)]
        rules_out = [_rule_out(rule, f"{source}: adapter.out[{i}]")
                     for i, rule in enumerate(_tables(table, "out", source), 1)]
        return cls(rules_in, rules_out)

    def describe(self) -> str:
        return f"{len(self.rules_in)} rule(s) in, {len(self.rules_out)} out"

    def incoming(self, address: str, args: list) -> Messages:
        """robojam's messages for one the app sent (itself, when no rule matches)."""
        matched = False
        messages = []
        for rule in self.rules_in:
            captured = rule.matcher.fullmatch(address)
            if captured is None:
                continue
            matched = True
            values = _bind(rule, args, {k: _number_or_text(v) for k, v in captured.groupdict().items()})
            message = self._translate(rule, values, _robojam_args)
            if message is not None:
                messages.append(message)
        return messages if matched else [(address, list(args))]

    def outgoing(self, address: str, args: list) -> Messages:
        """The app's messages for one robojam sends (itself, when no rule matches)."""
        rules = [rule for rule in self.rules_out if rule.robojam == address]
        if not rules:
            return [(address, list(args))]
        messages = []
        for rule in rules:
            values = dict(zip(RESPONSES[address], args)) if len(args) >= len(RESPONSES[address]) else None
            message = self._translate(rule, values, _app_args)
            if message is not None:
                messages.append(message)
        return messages

    def _translate(self, rule: Rule, values: dict | None, build) -> tuple[str, list] | None:
        """One rule's message from the bound values, or None: not wanted (``when``) or not possible."""
        if values is not None and not _holds(rule.when, values):
            return None
        message = build(rule, _flipped(values, rule.flip)) if values is not None else None
        if message is None:
            self.dropped += 1
        return message


# --- translating ---------------------------------------------------------------------


def _bind(rule: Rule, args: list, captured: dict) -> dict | None:
    """Names bound to the app's arguments (and the path's captures), or None if they do not fit."""
    if rule.pairs:
        if len(args) % 2:
            return None
        named = {}
        for name, value in zip(args[::2], args[1::2]):
            if not isinstance(name, str):
                return None
            named[name.lstrip("/")] = value
        return {**named, **captured}
    if len(args) < len(rule.args):
        return None
    return {**{n: v for n, v in zip(rule.args, args) if n != SKIP}, **captured}


def _holds(when: dict, values: dict) -> bool:
    return all(name in values and _same(values[name], wanted) for name, wanted in when.items())


def _same(value, wanted) -> bool:
    if isinstance(value, str) != isinstance(wanted, str):
        return False
    return value == wanted


def _flipped(values: dict, names: list[str]) -> dict | None:
    if not all(_is_number(values.get(n)) for n in names if n in values):
        return None
    return {k: 1.0 - v if k in names else v for k, v in values.items()}


def _robojam_args(rule: Rule, values: dict | None) -> tuple[str, list] | None:
    """robojam's message with its arguments by name: required ones must be there."""
    if values is None:
        return None
    out = []
    for arg in ADDRESSES[rule.robojam].args:
        if arg.name not in values:
            if arg.optional:
                break
            return None
        value = values[arg.name]
        if not (isinstance(value, str) if arg.kind == "s" else _is_number(value)):
            return None
        out.append(value if arg.kind == "s" else float(value))
    return rule.robojam, out


def _app_args(rule: Rule, values: dict | None) -> tuple[str, list] | None:
    """The app's message: named values and literal numbers, or "/name" value pairs."""
    if values is None:
        return None
    out = []
    for item in rule.args:
        if not isinstance(item, str):
            out.append(item)
            continue
        value = values.get(item)
        if not (_is_number(value) or isinstance(value, str)):
            return None
        out += [f"/{item}", value] if rule.pairs else [value]
    return rule.address, out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number_or_text(part: str) -> int | str:
    return int(part) if part.isascii() and part.isdigit() else part


# --- checking the config --------------------------------------------------------------


def _tables(table: dict, key: str, source: str) -> list[dict]:
    rules = table.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise RobojamError(f"{source}: adapter.{key} must be tables, written [[adapter.{key}]]")
    return rules


def _no_unknown_keys(rule: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(rule) - known)
    if unknown:
        raise RobojamError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _required(rule: dict, key: str, where: str) -> str:
    if key not in rule:
        raise RobojamError(f"{where}: missing {key!r}")
    if not isinstance(rule[key], str):
        raise RobojamError(f"{where}: {key} must be a string, not {rule[key]!r}")
    return rule[key]


def _common(rule: dict, where: str, robojam: str, address: str, matcher: re.Pattern | None) -> Rule:
    pairs = rule.get("pairs", False)
    if not isinstance(pairs, bool):
        raise RobojamError(f"{where}: pairs must be true or false")
    flip = rule.get("flip", [])
    if not isinstance(flip, list) or not all(isinstance(n, str) for n in flip):
        raise RobojamError(f"{where}: flip must be a list of names, like [\"y\"]")
    when = rule.get("when", {})
    if not isinstance(when, dict) or not all(isinstance(v, (int, float, str)) for v in when.values()):
        raise RobojamError(f"{where}: when must be a table of names and values, like {{down = 0}}")
    return Rule(where, address, robojam, list(rule.get("args", [])), pairs, flip, when, matcher)


def _rule_in(rule: dict, where: str) -> Rule:
    _no_unknown_keys(rule, IN_KEYS, where)
    address, to = _required(rule, "address", where), _required(rule, "to", where)
    if to not in ADDRESSES:
        raise RobojamError(f"{where}: to = {to!r} is not one of robojam's messages: {', '.join(ADDRESSES)}")
    matcher, captures = _compile(address, where)
    checked = _common(rule, where, to, address, matcher)
    names = _names(rule, where, literals=False)
    if checked.pairs and names:
        raise RobojamError(f"{where}: give args or pairs = true, not both")
    if set(names) & set(captures):
        raise RobojamError(f"{where}: {', '.join(sorted(set(names) & set(captures)))} named in both address and args")
    if not checked.pairs:
        bound = set(names) | set(captures)
        missing = [a.name for a in ADDRESSES[to].args if not a.optional and a.name not in bound]
        if missing:
            raise RobojamError(f"{where}: {to} needs {', '.join(missing)}, which this rule does not name")
        _all_bound(checked, bound)
    return checked


def _rule_out(rule: dict, where: str) -> Rule:
    _no_unknown_keys(rule, OUT_KEYS, where)
    robojam, address = _required(rule, "from", where), _required(rule, "address", where)
    if robojam not in RESPONSES:
        raise RobojamError(f"{where}: from = {robojam!r} is not one of robojam's outgoing messages: "
                           f"{', '.join(RESPONSES)}")
    if not re.fullmatch(r"(/[^\s/#*?,\[\]{}]+)+", address):
        raise RobojamError(f"{where}: address {address!r} must be a plain OSC address like /1/xy2")
    checked = _common(rule, where, robojam, address, None)
    names = _names(rule, where, literals=not checked.pairs)
    bound = set(RESPONSES[robojam])
    unknown = sorted(set(names) - bound)
    if unknown:
        raise RobojamError(f"{where}: {robojam} has no {', '.join(unknown)}; "
                           f"it has {', '.join(RESPONSES[robojam]) or 'no arguments'}")
    _all_bound(checked, bound)
    return checked


def _names(rule: dict, where: str, literals: bool) -> list[str]:
    """The names in ``args`` (checked), leaving out "_" and literal numbers."""
    args = rule.get("args", [])
    allowed = "names or numbers" if literals else "names"
    if not isinstance(args, list):
        raise RobojamError(f"{where}: args must be a list of {allowed}, like [\"x\", \"y\"]")
    names = []
    for item in args:
        if literals and _is_number(item):
            continue
        if not isinstance(item, str) or not NAME.fullmatch(item):
            raise RobojamError(f"{where}: args must be a list of {allowed}; {item!r} is not one")
        if item != SKIP:
            names.append(item)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RobojamError(f"{where}: args names {', '.join(duplicated)} more than once")
    return names


def _all_bound(rule: Rule, bound: set[str]) -> None:
    for key, names in (("flip", rule.flip), ("when", list(rule.when))):
        unknown = sorted(set(names) - bound)
        if unknown:
            raise RobojamError(f"{rule.where}: {key} names {', '.join(unknown)}, which this rule does not bind")


def _compile(address: str, where: str) -> tuple[re.Pattern, list[str]]:
    """A pattern like /1/multixy1/{finger} as a regular expression, and its capture names."""
    if not address.startswith("/"):
        raise RobojamError(f"{where}: address {address!r} must start with /")
    parts, captures = [], []
    for part in address[1:].split("/"):
        capture = re.fullmatch(r"\{(.*)\}", part)
        if capture:
            name = capture.group(1)
            if not NAME.fullmatch(name) or name == SKIP or name in captures:
                raise RobojamError(f"{where}: {{{name}}} in {address!r} must be a new name, like {{finger}}")
            captures.append(name)
            parts.append(f"(?P<{name}>[^/]+)")
        elif part and not re.search(r"[\s#*?,\[\]{}]", part):
            parts.append(re.escape(part))
        else:
            raise RobojamError(f"{where}: address {address!r}: each part is plain text or {{name}}")
    return re.compile("/" + "/".join(parts)), captures
