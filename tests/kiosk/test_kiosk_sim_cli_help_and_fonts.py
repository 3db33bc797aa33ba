"""`station-edge sim kiosk*` explain themselves, and receipts render Chinese with the font scripts/setup installs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from devices.simulators.kiosk.escpos_interp import Receipt, TextLine
from devices.simulators.kiosk.render import render_png
from edge.cli import main


@pytest.mark.parametrize("command", ["kiosk", "kiosk-fault", "kiosk-status"])
def test_kiosk_sim_commands_have_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: station-edge sim {command}")
    assert "--control" in out or "--write-config" in out


def test_chinese_receipt_text_is_not_rendered_as_boxes(tmp_path: Path) -> None:
    assert Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists(), "run scripts/setup (fonts-wqy-microhei)"

    def render(text: str) -> Image.Image:
        return Image.open(render_png(Receipt([TextLine(text)]), tmp_path / f"{ord(text[0])}.png")).convert("L")

    # Without a CJK font every character is the same "missing glyph" box, so two characters look alike.
    first, second = render("林"), render("梅")
    assert ImageChops.difference(first, second).getbbox() is not None
