"""ModulePusher (push_down_modules, get_push_down_modules), the nested namers, the module
construction callbacks and update_bindings_nested: values preserved on random data, rc's names,
the usage patterns of rc's model_rewrites, and the error paths."""

import gc
import itertools
import os
import re

import numpy as np
import pytest

import circuits as rc
from circuits import (
    Add,
    Array,
    Einsum,
    IterativeMatcher,
    Matcher,
    Module,
    ModuleArgSpec,
    ModulePusher,
    ModuleSpec,
    Parser,
    Symbol,
    default_nested_module_namer,
    default_update_bindings_nested_namer,
    new_traversal,
    update_bindings_nested,
)


def parse(s, check_all_inputs_used=True):
    return Parser(module_check_all_inputs_used=check_all_inputs_used).parse_circuits(s)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a.evaluate()), np.asarray(b.evaluate()), rtol=1e-4, atol=1e-5)


def mod(body, name, **binds):
    """Module of body binding the named free symbols of body to the keyword arguments."""
    syms = {x.name: x for x in body.get(Symbol)}
    spec = ModuleSpec(body, [ModuleArgSpec(syms[k]) for k in binds], check_all_inputs_used=False)
    return Module.new_flat(spec, *binds.values(), name=name)


def symbols(c):
    return c.get(Symbol)


def modules(c):
    return c.get(Module)


# --- rc's naming edge cases ---------------------------------------------------------------------


NAMING_CASES = [
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'b' Module
          'random_sym'
        """,
        0,
        None,
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'a' Module
          'b' Module
            'random_sym'
        """,
        0,
        None,
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'add' Add
          'random_sym'
          'random_sym'
        'b' Module
          'add'
        """,
        1,
        None,
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'add' Add
          'random_sym'
          'random_sym'
        'a' Module
          'b' Module
            'c' Module
              'add'
              'garbage' [] Scalar 3 ! 'unused0' [] Symbol 26f1c039-5491-458e-a908-1a90e258c806
            'garbage' ! 'unused0'
          'garbage' ! 'unused0'
        """,
        1,
        None,
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'add' Add
          'random_sym'
          'random_sym'
        'c' Module
          'add'
          'garbage' [] Scalar 3 ! 'unused0' [] Symbol 26f1c039-5491-458e-a908-1a90e258c806

        'a' Module
          'b' Module
            'c'
            'garbage' ! 'unused0'
          'garbage' ! 'unused0'
        """,
        2,
        "c",
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'my_arg' [] Scalar 3874
        'b' Module
          'random_sym'
          'my_arg' ! 'random_sym'
        """,
        1,
        None,
    ),
    (
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        'my_arg' [] Scalar 3874
        'a' Module
          'b' Module
            'random_sym'
            'my_arg' ! 'random_sym'
        """,
        1,
        None,
    ),
]


@pytest.mark.parametrize("text,expected_index,term", NAMING_CASES)
def test_naming_edge_cases(text, expected_index, term):
    cs = parse(text, check_all_inputs_used=False)
    traversal = new_traversal() if term is None else new_traversal(term_early_at=term)
    assert ModulePusher().push_down_modules(cs[-1], traversal=traversal) == cs[expected_index]


def test_python_namer_names_the_path():
    sym, new_add, c = parse(
        """
        'random_sym' [] Symbol ded02d73-6102-4f7f-a8cf-15b1065e226e
        0 'b' Add
          'add bind:b' Add
            'my_arg' [] Scalar 3874
            'my_arg' [] Scalar 3874
        1 'b' Module
          'outer' Add
            'add' Add
              'random_sym'
              'random_sym'
          'my_arg' ! 'random_sym'
        """
    )
    calls = []

    def namer(*args):
        calls.append(args)
        return default_nested_module_namer()(*args)

    assert ModulePusher(namer=namer).push_down_modules(c, traversal=new_traversal()) == new_add
    # rc's arguments: (base, running, modules inner to outer, pushed count or None)
    assert any(a[0].name == "add" and [m.name for m in a[2]] == ["b"] and a[3] is None for a in calls)


def test_default_namers_direct():
    sym = Symbol.new_with_random_uuid((2,), "s")
    body = Add(sym, name="body")
    a = mod(body, "ma", s=Array(np.ones(2, np.float32), "x"))
    b = mod(body, "mb", s=Array(np.ones(2, np.float32), "y"))
    nm = default_nested_module_namer()
    assert nm(body, body, [], 0) == "body"
    assert nm(body, body, [a, b], 2) == "body bind:ma,mb"
    assert default_nested_module_namer("on")(body, body, [a], None) == "body on:ma"
    assert nm(body.rename(None), body, [a], 1) is None
    assert nm(body, body, [a.rename(None)], 1) is None
    up = default_update_bindings_nested_namer()
    assert up(body, body, [a], None) == "body upd_bind"
    assert up(body, body, [a], 1) == "body upd_bind:ma"
    assert default_update_bindings_nested_namer(keep_name_if_not_leaf=True)(body, body, [a], None) == "body"
    assert default_update_bindings_nested_namer(short_if_not_leaf=False)(body, body, [a], None) == "body upd_bind:ma"
    assert isinstance(nm, rc.NestedModuleNamer)


# --- rc's nested update test --------------------------------------------------------------------

NESTED = """
'a' Module
  'b' Module
    'c' Module
      'add' Add
        'sym_a' [] Symbol 05c93da1-ac33-47eb-b215-d1a8e8438a02
        'sym_b' [] Symbol 5ae54c16-b570-4abd-ad37-f527c25494c1
        'sym_c' [] Symbol cb22836a-b5cb-4e65-969e-563958249e81
      'arg_c' [] Scalar 3 ! 'sym_c'
    'arg_b' Einsum ij,j->i ! 'sym_b'
      'within_arg' Module
        'add_within' Add
          'sym_d' [] Symbol fbb99b36-0809-4eae-ae10-7d38a90d1386
          'w' [3] Scalar 4
        'k' [7] Scalar 7 ! 'sym_d'
      'x' [3] Scalar 8
  'arg_a' [] Scalar 82.83 ! 'sym_a'
"""


def test_push_down_nested_update_arg():
    (circ,) = parse(NESTED)
    pushed = ModulePusher().push_down_modules(circ, traversal=new_traversal())
    close(pushed, circ)
    assert symbols(pushed) == set() and modules(pushed) == set()
    assert pushed.name == "a"
    assert {x.name for x in pushed.get(Matcher.regex("bind:"))} == {"arg_b bind:a", "within_arg bind:a"}

    close(ModulePusher(flatten_modules=False).push_down_modules(circ, traversal=new_traversal()), circ)
    pushed = ModulePusher(flatten_modules=False).push_down_modules(
        circ, traversal=new_traversal(term_early_at={"sym_a", "sym_d"})
    )
    close(pushed, circ)
    assert "sym_a bind:c,b,a" in {m.name for m in modules(pushed)}

    for flatten in [False, True]:
        pushed = ModulePusher(flatten_modules=flatten).push_down_modules(
            circ, traversal=new_traversal(term_early_at={"sym_a", "sym_d", "add"}), skip_module={"a", "c"}
        )
        assert isinstance(pushed.get_unique("within_arg"), Add)
        close(pushed, circ)


# --- rc's complex push down (batched modules) ---------------------------------------------------


def complex_module(batch_inner_0=(), batch_inner_1=(), batch_outer_0=(), batch_outer_1=(), separate_mod=False):
    alpha = [chr(i) for i in range(ord("f"), ord("z"))]
    b_inner_alpha = "".join(alpha[: len(batch_inner_0)])

    def sh(*parts):
        return ",".join(map(str, sum(parts, ())))

    s = f"""
    'inner' Einsum az,bz,cl->bac
      'inner.sym_arg0' [0s, 4s] Symbol a409cdc3-d962-4df1-8d1b-c5c8d8b50639
      'inner.concat' Concat 0
        'inner.sym_arg1' [3, 4s] Symbol 02927290-fc4f-45b7-9822-267918e897d6
        'outer.sym_arg0' [7, 4s] Symbol 6dcfaf1e-5e35-418a-ad88-3d79ae32096c
      'outer.sym_arg1' [3s, 5s] Symbol ecf273f5-82c5-4fbf-8097-d9b1a250e035

    'inner.call' Module
      'inner'
      'inner.apply_inner' Einsum cd,{b_inner_alpha}a->{b_inner_alpha}ca ! 'inner.sym_arg0'
        'outer.sym_arg0'
        'inner.rand0' [{sh(batch_inner_0, (5,))}] Array rand
      'inner.rand1' [{sh(batch_inner_1, (3, 5))}] Array rand ! 'inner.sym_arg1'

    'add_inner' Add
      'inner.call'
      'inner.call'

    'outer' Module
      '{"add_inner" if separate_mod else "inner.call"}'
      'outer.rand0' [{sh(batch_outer_0, (7, 5))}] Array rand ! 'outer.sym_arg0'
      'outer.rand1' [{sh(batch_outer_1, (9, 12))}] Array rand ! 'outer.sym_arg1'
    """
    f64 = rc.TorchDeviceDtypeOp(dtype="float64")
    _, inner_call, _, outer = [rc.cast_circuit(c, f64) for c in Parser().parse_circuits(s)]
    return inner_call, outer


COMPLEX_CASES = [
    {},
    dict(batch_inner_0=(3,)),
    dict(batch_inner_0=(3, 7)),
    dict(batch_inner_1=(3,)),
    dict(batch_inner_0=(3,), batch_inner_1=(3,)),
    dict(batch_inner_0=(3,), batch_inner_1=(7, 3)),
    dict(batch_inner_0=(7, 3), batch_inner_1=(3,)),
    dict(batch_outer_0=(3,)),
    dict(batch_outer_1=(3, 7)),
    dict(batch_outer_0=(3,), batch_outer_1=(7, 3)),
    dict(batch_inner_0=(3,), batch_outer_0=(4,)),
    dict(batch_inner_0=(3, 1), batch_outer_0=(4,), batch_outer_1=(6, 4)),
    dict(batch_inner_0=(3, 2), batch_inner_1=(2,), batch_outer_0=(4,), batch_outer_1=(6, 4)),
    dict(batch_inner_1=(3,), batch_outer_1=(4,)),
]


@pytest.mark.parametrize("separate_mod", [False, True])
@pytest.mark.parametrize("batches", COMPLEX_CASES)
def test_complex_push_down(batches, separate_mod):
    inner_call, outer = complex_module(separate_mod=separate_mod, **batches)

    push = ModulePusher().push_down_modules(outer, traversal=new_traversal())
    assert symbols(push) == set()
    close(push, outer)

    for flatten, remove, elim in itertools.product(*([[False, True]] * 3)):
        equiv = ModulePusher(
            flatten_modules=flatten,
            module_construct_callback=ModulePusher.remove_and_elim_callback(
                remove_unused_inputs=remove, elim_no_input_modules=elim
            ),
        ).push_down_modules(outer, traversal=new_traversal())
        assert equiv == push

    push = ModulePusher(flatten_modules=True).push_down_modules(
        outer, traversal=new_traversal(term_early_at="inner.concat")
    )
    assert len(symbols(push)) == 2 and len(modules(push)) == 1
    assert sum(len(m.spec.arg_specs) for m in modules(push)) == 2
    close(push, outer)

    push = ModulePusher(flatten_modules=False).push_down_modules(
        outer, traversal=new_traversal(term_early_at="inner.concat")
    )
    assert len(symbols(push)) == 2 and len(modules(push)) == 2
    assert sum(len(m.spec.arg_specs) for m in modules(push)) == 2
    close(push, outer)

    push = ModulePusher(flatten_modules=False, module_construct_callback=ModulePusher.noop_callback()).push_down_modules(
        outer, traversal=new_traversal(term_early_at="inner.concat")
    )
    assert len(symbols(push)) == 2 and len(modules(push)) == 2
    assert sum(len(m.spec.arg_specs) for m in modules(push)) == 4
    close(push, outer)

    assert ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module=IterativeMatcher(True)) == outer
    assert ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module={"outer", "inner.call"}) == outer

    close(ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module={"inner.call"}), outer)
    for flatten in [True, False]:
        close(
            ModulePusher(flatten_modules=flatten).push_down_modules(
                outer, traversal=new_traversal(term_early_at="inner.concat"), skip_module={"inner.call"}
            ),
            outer,
        )

    push = ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module={"outer"})
    assert isinstance(push, Module)
    assert push.spec.arg_specs == outer.spec.arg_specs
    assert len(symbols(push)) == 2 and len(modules(push)) == 1
    close(push, outer)

    push = ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module={"inner.call"})
    assert len(modules(push)) == 1
    assert {s.symbol.name for s in push.get_unique(Module).spec.arg_specs} == {
        s.symbol.name for s in inner_call.spec.arg_specs
    }
    assert len(symbols(push)) == 2
    close(push, outer)


def test_end_depth_traversal_names():
    _, outer = complex_module()
    pushed = ModulePusher().push_down_modules(outer, traversal=new_traversal(end_depth=3))
    close(pushed, outer)
    # the nodes reached at depth 3 are wrapped in the fused module, named by the default namer
    # the traversal ends at inner.call's body and arguments: the body is wrapped in one fused
    # module, renamed to the outer module's name at the top; the argument reaching outer's
    # symbol keeps a module of its own
    assert isinstance(pushed, Module) and pushed.name == "outer"
    assert pushed.spec.circuit.name == "inner"
    assert {m.name for m in modules(pushed)} == {"outer", "inner.apply_inner bind:outer"}


# --- model_rewrites usage patterns --------------------------------------------------------------


def transformer_like():
    """Two 'blocks' b0, b1, each a Module calling a shared body 'b' over the residual, whose
    attention 'a' and mlp 'm' are Modules over a norm call, as rc's model circuits are."""
    r = np.random.default_rng(0)
    x = Symbol.new_with_random_uuid((4,), "b.input")
    w_a = Symbol.new_with_random_uuid((4, 4), "a.w")
    w_m = Symbol.new_with_random_uuid((4, 4), "m.w")
    a_inp = Symbol.new_with_random_uuid((4,), "a.input")
    m_inp = Symbol.new_with_random_uuid((4,), "m.input")
    a = Einsum.from_einsum_string("ij,j->i", w_a, a_inp, name="a")
    m = Einsum.from_einsum_string("ij,j->i", w_m, m_inp, name="m")
    a_norm = mod(a, "a.norm_call", **{"a.input": Einsum.from_einsum_string("i,i->i", x, x, name="ln")})
    m_norm = mod(m, "m.norm_call", **{"m.input": x})
    body = Add(x, a_norm, m_norm, name="b")

    def arr(*shape, name):
        return Array(r.standard_normal(shape).astype(np.float32), name)

    inp = arr(4, name="tok_embeds")
    b0 = mod(body, "b0", **{"b.input": inp, "a.w": arr(4, 4, name="a0.w_arr"), "m.w": arr(4, 4, name="m0.w_arr")})
    b1 = mod(body, "b1", **{"b.input": b0, "a.w": arr(4, 4, name="a1.w_arr"), "m.w": arr(4, 4, name="m1.w_arr")})
    return b1


def push_down_transformer_namer(circ, _, mods, _num):
    # rc's model_rewrites.push_down_transformer_namer
    if re.match(r"([amb]\.)|([am]$)|(ln$)", circ.name):
        name = mods[0].name if circ.name == "ln" else circ.name
        split_first, _, split_rest = name.partition(".")
        suffix = f".{split_rest}" if "." in name else ""
        num = None
        for x in mods:
            got = re.match(r"b(\d+)$", x.name)
            if got is not None:
                num = int(got.group(1))
                break
        return f"{split_first}{num if num is not None else ''}{suffix}"
    return circ.name


def test_transformer_weights_push_with_custom_namer():
    c = transformer_like()
    out = ModulePusher(namer=push_down_transformer_namer).push_down_modules(
        c,
        traversal=new_traversal(term_early_at=Matcher.any("ln", Matcher.regex(r"^[am]$"))),
        skip_module=~Matcher(Matcher.regex(r"^b\d+$")),
    )
    close(out, c)
    names = {x.name for x in out.get(Module)}
    # each block's a/m got the block weights pushed into a module of its own
    assert {"a0", "a1", "m0", "m1"} <= names
    assert out.get_unique("a1").spec.arg_specs[0].symbol.name in {"a.w", "b.input", "a.input"}


def test_pull_up_bias_pattern_nested():
    c = transformer_like()
    calls = []

    def namer(x, _, mods, _num):
        calls.append((x.name, [m.name for m in mods], _num))
        if len(mods) == 0:
            return x.name
        if x.name in ["a", "m"]:
            return f"{x.name}.pushed{len(mods)}"
        return x.name

    out = ModulePusher(namer=namer, flatten_modules=False).push_down_modules(
        c,
        traversal=new_traversal(term_early_at=Matcher.regex(r"^[am]$")),
        skip_module=~(Matcher.regex(r"^[am].norm_call$") | Matcher.regex(r"^b\d$")),
    )
    close(out, c)
    # a and m are wrapped in their norm call module (inner) and their block (outer)
    assert {"a.pushed1", "a.pushed2", "m.pushed1", "m.pushed2"} <= {m.name for m in out.get(Module)}
    assert ("a", ["a.norm_call", "b1"], 2) in calls and ("a", ["a.norm_call"], 2) in calls
    assert not out.are_any_found(Matcher.regex(r"^b\d$") & Matcher.types(Module))
    # with only the norm calls pushed, a node under one module is that module again
    same = ModulePusher(flatten_modules=False).push_down_modules(
        c,
        traversal=new_traversal(term_early_at=Matcher.regex(r"^[am]$")),
        skip_module=~Matcher.regex(r"^[am].norm_call$"),
    )
    assert same == c


def test_chain_term_traversal_pattern():
    c = transformer_like()
    out = ModulePusher(flatten_modules=False).push_down_modules(
        c,
        traversal=new_traversal(term_early_at=~Matcher.match_any_found("a")).chain(IterativeMatcher.term()),
        skip_module=~Matcher("a.norm_call"),
    )
    close(out, c)
    # a.norm_call is pushed to the leaves of 'a' that are not above 'a' (its binding wraps
    # a.input); the node keeps the module's name
    assert isinstance(out.get_unique("a.norm_call"), Einsum)
    assert isinstance(out.get_unique("a.input bind:a.norm_call"), Module)
    assert isinstance(out.get_unique("m.norm_call"), Module)


def test_get_push_down_modules():
    _, outer = complex_module()
    found = ModulePusher().get_push_down_modules(outer, "inner.concat")
    assert isinstance(found, set) and len(found) == 1
    (got,) = found
    assert ModulePusher().get_unique_push_down_modules(outer, "inner.concat") == got
    assert ModulePusher().get_unique_op_push_down_modules(outer, "inner.concat") == got
    assert ModulePusher().get_unique_op_push_down_modules(outer, "nothing_named_so") is None
    assert isinstance(got, Module) and got.spec.circuit.name == "inner.concat"
    # the concat's free symbols are bound, values as in the fully substituted circuit
    sub = rc.substitute_all_modules(outer)
    ref = sub.get_unique(Matcher.regex(r"^inner.concat"))
    np.testing.assert_allclose(np.asarray(got.evaluate()), np.asarray(ref.evaluate()), rtol=1e-5)
    with pytest.raises(RuntimeError, match="found no matches!"):
        ModulePusher().get_unique_push_down_modules(outer, "nothing_named_so")
    with pytest.raises(RuntimeError, match="found 2 matches which is > 1"):
        ModulePusher().get_unique_push_down_modules(outer, {"inner.concat", "inner.rand0"})


def test_properties_and_callbacks():
    p = ModulePusher()
    assert p.flatten_modules is True and p.bind_encountered_symbols is True
    assert isinstance(p.module_construct_callback, rc.ModuleConstructCallback)
    assert isinstance(p.namer, rc.NestedModuleNamer)
    with pytest.raises(AttributeError):
        p.flatten_modules = False

    def namer(*args):
        return None

    q = ModulePusher(flatten_modules=False, bind_encountered_symbols=False, namer=namer)
    assert q.namer is namer and q.flatten_modules is False and q.bind_encountered_symbols is False

    sym = Symbol.new_with_random_uuid((2,), "s")
    unused = Symbol.new_with_random_uuid((2,), "u")
    x = Array(np.ones(2, np.float32), "x")
    m = Module.new_flat(
        ModuleSpec(Add(sym, name="body"), [ModuleArgSpec(sym), ModuleArgSpec(unused)], check_all_inputs_used=False),
        x,
        x,
        name="m",
    )
    keep = ModulePusher.noop_callback()(m, [m], 1)
    assert keep == m
    removed = ModulePusher.remove_unused_callback()(m, [m], 1)
    assert len(removed.spec.arg_specs) == 1 and removed.name == "m"
    assert ModulePusher.remove_unused_callback(add_suffix_on_remove_unused=True)(m, [m], 1).name == "m rem_unused"
    empty = mod(Add(x, name="plain"), "e")
    assert ModulePusher.elim_no_input_modules_callback()(empty, [], 0) == Add(x, name="plain")
    assert ModulePusher.remove_and_elim_callback(False, False, False)(empty, [], 0) == empty
    assert ModulePusher.remove_and_elim_callback(False, False, True)(m, [m], 1) == m


def test_python_callback_is_called_with_rc_arguments():
    _, outer = complex_module()
    seen = []

    def cb(m, mods, count):
        seen.append(([x.name for x in mods], count))
        return m

    out = ModulePusher(module_construct_callback=cb).push_down_modules(
        outer, traversal=new_traversal(term_early_at="inner.concat")
    )
    close(out, outer)
    assert (["inner.call", "outer"], 2) in seen


def test_call_alias():
    (circ,) = parse(NESTED)
    assert ModulePusher()(circ, traversal=new_traversal()) == ModulePusher().push_down_modules(circ, new_traversal())


# --- update_bindings_nested ---------------------------------------------------------------------


def test_update_bindings_nested_rebinds_at_match():
    (circ,) = parse(NESTED)

    def update(x):
        return x.rename(x.name + " new") if x.name == "arg_a" else None

    out = update_bindings_nested(circ, update, "add")
    close(out, circ)
    new_mod = out.get_unique(Matcher.regex("^add upd_bind:"))
    assert isinstance(new_mod, Module)
    assert [s.symbol.name for s in new_mod.spec.arg_specs] == ["sym_a"]
    assert new_mod.nodes[0].name == "arg_a new"
    # nodes on the path to the match are renamed "<name> upd_bind"
    assert out.name == "a upd_bind"
    assert out.are_any_found("b upd_bind") and out.are_any_found("c upd_bind")


def test_update_bindings_nested_no_update_and_flatten():
    (circ,) = parse(NESTED)
    same = update_bindings_nested(circ, lambda x: None, "add")
    close(same, circ)
    assert not same.are_any_found(Matcher.regex("upd_bind:"))
    for flatten in [False, True]:
        out = update_bindings_nested(
            circ,
            lambda x: x if x.name == "arg_a" else None,
            "add",
            flatten_modules=flatten,
            namer=default_update_bindings_nested_namer(keep_name_if_not_leaf=True),
        )
        close(out, circ)
        assert out.name == "a"
        rebound = out.get(Matcher.regex("^add upd_bind:"))
        assert rebound
        assert {s.symbol.name for m in rebound for s in m.spec.arg_specs} == {"sym_a"}


def test_update_bindings_nested_names_levels():
    (circ,) = parse(NESTED)
    out = update_bindings_nested(circ, lambda x: x if x.name in {"arg_a", "arg_c"} else None, "add")
    close(out, circ)
    # one new module per level that re-binds something; b re-binds nothing and is left out
    inner = out.get_unique("add upd_bind:c")
    outer_mod = out.get_unique("add upd_bind:c,a")
    assert outer_mod.spec.circuit == inner
    assert [s.symbol.name for s in inner.spec.arg_specs] == ["sym_c"]
    assert [s.symbol.name for s in outer_mod.spec.arg_specs] == ["sym_a"]
    with pytest.raises(ValueError, match="batched"):
        update_bindings_nested(
            circ, lambda x: x if x.name in {"arg_a", "arg_c"} else None, "add", flatten_modules=True
        )


def test_update_bindings_nested_python_namer_and_spec_update():
    (circ,) = parse(NESTED)
    calls = []

    def namer(base, running, mods, count):
        calls.append(count)
        return None if count is None else "rebound"

    out = update_bindings_nested(
        circ,
        lambda x: x if x.name == "arg_c" else None,
        "add",
        namer=namer,
        run_update_on_new_spec_circuits=True,
        skip_module="a",
    )
    close(out, circ)
    assert out.get_unique("rebound").spec.arg_specs[0].symbol.name == "sym_c"
    assert None in calls and 2 in calls


# --- errors -------------------------------------------------------------------------------------


def test_bind_encountered_symbols_false_raises():
    (circ,) = parse(NESTED)
    with pytest.raises(rc.PushDownModulePushPastPreviouslyBoundSymbolError, match="the encountered symbol 'sym_d' was bound by a pushed module, but bind_encountered_symbols is false"):
        ModulePusher(bind_encountered_symbols=False).push_down_modules(circ, traversal=new_traversal())


def test_skipped_module_overriding_binding_raises():
    sym = Symbol.new_with_random_uuid((2,), "s")
    x = Array(np.ones(2, np.float32), "x")
    inner = mod(Add(sym, name="inner_body"), "inner", s=x)
    outer = mod(Add(inner, sym, name="outer_body"), "outer", s=x)
    with pytest.raises(
        rc.PushDownModulePushingPastModuleWhichOverridesSymError,
        match=r"\(Not currently supported\) the encountered symbol 's'.*skipped module 'inner'",
    ):
        ModulePusher().push_down_modules(outer, traversal=new_traversal(), skip_module="inner")
    assert issubclass(rc.PushDownModulePushingPastModuleWhichOverridesSymError, rc.PushDownModuleError)


def test_namer_errors():
    (circ,) = parse(NESTED)
    with pytest.raises(TypeError, match="a namer must return a str or None, not int"):
        ModulePusher(namer=lambda *a: 3).push_down_modules(circ, traversal=new_traversal())

    class Boom(Exception):
        pass

    def raising(*a):
        raise Boom("namer boom")

    with pytest.raises(Boom, match="namer boom"):
        ModulePusher(namer=raising).push_down_modules(circ, traversal=new_traversal())
    with pytest.raises(TypeError, match="namer must be a callable"):
        ModulePusher(namer=3)
    with pytest.raises(TypeError, match="module_construct_callback must be a callable"):
        ModulePusher(module_construct_callback="x")


def test_callback_and_update_errors():
    _, outer = complex_module()
    with pytest.raises(TypeError, match="a module construct callback must return a Circuit, not int"):
        ModulePusher(module_construct_callback=lambda m, mods, n: 1).push_down_modules(
            outer, traversal=new_traversal(term_early_at="inner.concat")
        )
    (circ,) = parse(NESTED)
    with pytest.raises(TypeError, match="an update must return a Circuit, not str"):
        update_bindings_nested(circ, lambda x: "no", "add")
    with pytest.raises(TypeError, match="update must be a callable"):
        update_bindings_nested(circ, 3, "add")
    with pytest.raises(ZeroDivisionError):
        update_bindings_nested(circ, lambda x: 1 / 0, "add")


def test_update_bindings_nested_batched_raises():
    inner_call, outer = complex_module(batch_outer_0=(3,))
    with pytest.raises(ValueError, match="batched"):
        update_bindings_nested(outer, lambda x: x if x.name == "outer.rand0" else None, "inner.concat")


def test_namer_argument_errors():
    nm = default_nested_module_namer()
    sym = Symbol.new_with_random_uuid((2,), "s")
    with pytest.raises(TypeError, match=r"modules\[0\]: expected Module but got Symbol"):
        nm(sym, sym, [sym], 0)
    with pytest.raises(ValueError, match="pushed_count must be >= 0"):
        nm(sym, sym, [], -1)
    with pytest.raises(TypeError):
        rc.NestedModuleNamer()


# --- memory -------------------------------------------------------------------------------------


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm")
def test_repeated_pushes_keep_memory_flat():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")
    (circ,) = parse(NESTED)
    _, outer = complex_module(batch_inner_0=(3,), batch_outer_1=(4,))

    def step(i):
        ModulePusher(namer=lambda *a: None).push_down_modules(circ, traversal=new_traversal())
        ModulePusher(flatten_modules=False).push_down_modules(
            outer, traversal=new_traversal(term_early_at="inner.concat"), skip_module={"inner.call"}
        )
        ModulePusher().get_push_down_modules(outer, "inner.concat")
        update_bindings_nested(circ, lambda x: x if x.name == "arg_a" else None, "add")
        try:
            ModulePusher(bind_encountered_symbols=False).push_down_modules(circ, traversal=new_traversal())
        except rc.PushDownModuleError:
            pass

    for i in range(50):
        step(i)
    gc.collect()
    before = resident_bytes()
    for i in range(400):
        step(i)
    gc.collect()
    growth = resident_bytes() - before
    assert growth < 20 * (1 << 20), f"resident memory grew by {growth / (1 << 20):.1f} MB"


@pytest.mark.parametrize(
    "batches",
    [
        dict(batch_inner_1=(3,), batch_outer_0=(4,)),
        dict(batch_inner_1=(3, 2), batch_outer_0=(4,)),
        dict(batch_inner_0=(2,), batch_outer_0=(4, 5)),
    ],
)
@pytest.mark.parametrize("flatten", [True, False])
def test_skipped_module_moving_batch_into_symbols(batches, flatten):
    # inner.call is skipped while outer is pushed through it: its arguments gain outer's batch
    # axes, which move into its symbols; its body is pushed again with the grown symbols, and
    # where the traversal ends inside, the axes the replacement adds move into outer's symbols
    _, outer = complex_module(**batches)
    for term in ["inner", "inner.concat", {"inner", "inner.apply_inner"}]:
        out = ModulePusher(flatten_modules=flatten).push_down_modules(
            outer, traversal=new_traversal(term_early_at=term), skip_module={"inner.call"}
        )
        close(out, outer)
        assert isinstance(out.get_unique(Matcher.regex(r"^inner.call")), Module)


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_push_root_module_to_every_depth(flatten, batched):
    c = transformer_like()
    if batched:
        r = np.random.default_rng(1)
        c = c.update("tok_embeds", lambda x: Array(r.standard_normal((2, *x.shape)).astype(np.float32), "tok_embeds"))
        assert c.shape == (2, 4)
    for end_depth in range(8):
        out = ModulePusher(flatten_modules=flatten)(c, traversal=new_traversal(end_depth=end_depth), skip_module=~Matcher(c))
        close(out, c)


def test_overriding_symbol_cases():
    (circ,) = parse(
        """
        'a' Module
          'add' Add
            'b' Module
              'sym' [] Symbol c9517c8e-0b5a-4ebf-94c8-6da413c9f5d1
              'b.arg' [] Scalar 1.2 ! 'sym'
            'sym'
          'a.arg' [3] Scalar 1.3 ! 'sym'
        """
    )
    with pytest.raises(rc.PushDownModulePushingPastModuleWhichOverridesSymError):
        ModulePusher().push_down_modules(circ, traversal=new_traversal(), skip_module="b")
    # pushed through (not skipped), the inner binding wins
    close(ModulePusher().push_down_modules(circ, traversal=new_traversal()), circ)

    (circ,) = parse(
        """
        'a' Module
          'add' Add
            'b' Module
              'add_inner' Add
                'sym' [] Symbol c9517c8e-0b5a-4ebf-94c8-6da413c9f5d1
                'sym.outer' [] Symbol 53db5cff-561e-4756-a502-65a26cb2a5f4
              'b.arg' [] Scalar 1.2 ! 'sym'
            'sym'
          'a.arg' [3] Scalar 1.3 ! 'sym'
          'a.outer_arg' [4, 3] Scalar 3.3 ! 'sym.outer'
        """
    )
    with pytest.raises(rc.PushDownModulePushingPastModuleWhichOverridesSymError):
        ModulePusher().push_down_modules(circ, traversal=new_traversal(), skip_module="b")
    for term in ["add_inner", {"sym", "sym.outer"}]:
        close(ModulePusher().push_down_modules(circ, traversal=new_traversal(term_early_at=term)), circ)


def test_three_batched_levels_fuse_outer_first():
    (c,) = parse(
        """
        'm0' Module
          'm1' Module
            'm2' Module
              'body' Add
                's0' [4] Symbol 11111111-1111-1111-1111-111111111111
                's1' [4] Symbol 22222222-2222-2222-2222-222222222222
                's2' [4] Symbol 33333333-3333-3333-3333-333333333333
              'a2' [5,4] Array rand ! 's2'
            'a1' [3,4] Array rand ! 's1'
          'a0' [2,4] Array rand ! 's0'
        """
    )
    assert c.shape == (2, 3, 5, 4)
    for flatten in [True, False]:
        for traversal in [new_traversal(), new_traversal(term_early_at="body")]:
            close(ModulePusher(flatten_modules=flatten).push_down_modules(c, traversal=traversal), c)
    out = ModulePusher().push_down_modules(c, traversal=new_traversal(term_early_at="body"))
    # each argument gets the batch axes of the modules inside its own, outer module first
    assert out.name == "m0" and out.spec.circuit.name == "body"
    assert [n.name for n in out.nodes] == ["a0 rep_fuse", "a1 rep_fuse", "a2"]
    assert [n.shape for n in out.nodes] == [(2, 3, 5, 4), (3, 5, 4), (5, 4)]
