"""Board files: the shell family is an enum checked once, when the board is made; the resources are RESOURCE_KINDS."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from hwgen.boards import Board, Family, board_names, load_board
from hwgen.hw import RESOURCE_KINDS
from hwgen.resources import boards


def test_every_board_file_names_a_family_and_every_resource():
    for name in board_names():
        board = load_board(name)
        assert isinstance(board.family, Family)
        assert str(board.family) == f"{board.family}" == json.loads((boards() / f"{name}.json").read_text())["family"]
        assert set(board.resources) == set(RESOURCE_KINDS)


def test_an_unknown_family_is_refused_naming_the_families():
    with pytest.raises(ValueError, match=r"board 'pynq-z2': family must be one of 'zynq7000', 'zynq_us\+', not 'zynq9000'"):
        Board(**{**asdict(load_board("pynq-z2")), "family": "zynq9000"})


def test_a_missing_resource_is_refused():
    board = asdict(load_board("pynq-z2"))
    del board["resources"]["URAM"]
    with pytest.raises(ValueError, match="board 'pynq-z2': resources lack URAM"):
        Board(**board)
