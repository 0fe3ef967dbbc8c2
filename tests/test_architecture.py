import math

import pytest

from neuralpoly_core.network.architecture import ArchType, check_dim, parse_ps, parse_type, parse_widths
from neuralpoly_core.errors import NeuralPolyError, TypeSpecError


@pytest.mark.parametrize("text, widths, ps, canon", [
    ("(4;1)", (4,), (1.0,), "(4;1)"),
    ("(4,2;1)", (4, 2), (1.0, 1.0), "(4,2;1)"),
    ("(3;0.8)", (3,), (0.8,), "(3;0.8)"),
    ("(4,2;1,2)", (4, 2), (1.0, 2.0), "(4,2;1,2)"),
    (" ( 4 , 2 ; 1 , 2 ) ", (4, 2), (1.0, 2.0), "(4,2;1,2)"),
    ("4,2;1.5", (4, 2), (1.5, 1.5), "(4,2;1.5)"),
])
def test_parse_and_format(text, widths, ps, canon):
    t = parse_type(text)
    assert t.widths == widths and t.ps == ps
    assert str(t) == canon
    assert parse_type(str(t)) == t
    assert t.degree == pytest.approx(math.prod(ps))


@pytest.mark.parametrize("text, fragment", [
    ("(0;1)", "at least 1"),
    ("(4;-1)", "> 0"),
    ("(4;0)", "> 0"),
    ("(4;nan)", "finite"),
    ("(4;inf)", "finite"),
    ("(4,;1)", "empty width"),
    ("(4,2;1,2,3)", "3 exponents given for 2 layers"),
    ("(4,2,3;1,2)", "2 exponents given for 3 layers"),
    ("(4.5;1)", "whole number"),
    ("(4;x)", "must be a number"),
    ("(4;1", "unbalanced"),
    ("(4)", "form (widths; p)"),
    ("", "form (widths; p)"),
])
def test_bad_types_rejected_with_named_problem(text, fragment):
    with pytest.raises(TypeSpecError) as e:
        parse_type(text)
    assert fragment in str(e.value)
    assert isinstance(e.value, NeuralPolyError) and isinstance(e.value, ValueError)


def test_from_strings_and_lists():
    assert ArchType.from_strings("4,2", "1") == parse_type("(4,2;1)")
    assert ArchType.from_strings("4,2", "1,2") == parse_type("(4,2;1,2)")
    assert ArchType((4, 2), (1, 2)) == parse_type("(4,2;1,2)")
    assert parse_widths([3]) == (3,)
    assert parse_ps("0.5", 3) == (0.5, 0.5, 0.5)
    with pytest.raises(TypeSpecError):
        ArchType.from_strings("4,0", "1")
    with pytest.raises(TypeSpecError):
        ArchType.from_strings("4", "")


def test_dimension_check():
    assert check_dim(2) == 2 and check_dim(5) == 5 and check_dim(3.0) == 3
    for bad in (1, 0, -3):
        with pytest.raises(TypeSpecError, match="at least 2"):
            check_dim(bad)
    with pytest.raises(TypeSpecError, match="whole number"):
        check_dim(2.5)


def test_type_of_a_neural_polytope_network():
    import numpy as np
    from neuralpoly_core import Activation, Layer, Network, Output, polytope_network
    from neuralpoly_core.network.architecture import type_of
    rng = np.random.default_rng(0)
    deep = polytope_network(3, [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], [1.0, 2.0])
    assert str(type_of(deep)) == "(4,2;1,2)" and type_of(deep) == ArchType((4, 2), (1.0, 2.0))
    assert str(type_of(polytope_network(2, [np.eye(2)], [0.8]))) == "(2;0.8)"
    relu = Network(3, [Layer(np.eye(3), None, Activation("relu"))])                 # no exponent p
    biased = Network(3, [Layer(np.eye(3), np.ones(3), Activation("abs_pow", p=1.0))])
    linear = Network(3, [Layer(np.eye(3), None, Activation("abs_pow", p=1.0))], Output("linear", np.ones((1, 3))))
    assert relu.is_neural_polytope and type_of(relu) is None
    assert type_of(biased) is None and type_of(linear) is None
