"""Render a simulated receipt to a PNG (Pillow + qrcode): 384-dot wide like a 58 mm thermal head."""

from __future__ import annotations

from pathlib import Path

import qrcode  # type: ignore[import-untyped]
from PIL import Image, ImageDraw, ImageFont

from devices.simulators.kiosk.escpos_interp import Barcode, QrCode, Raster, Receipt, TextLine

WIDTH = 384
LINE = 24
_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_LEVELS = {
    0x30: qrcode.constants.ERROR_CORRECT_L,
    0x31: qrcode.constants.ERROR_CORRECT_M,
    0x32: qrcode.constants.ERROR_CORRECT_Q,
    0x33: qrcode.constants.ERROR_CORRECT_H,
}


def _font(size: int, font_path: str | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # A CJK font renders Chinese; without one (install fonts-wqy-microhei) glyphs show as boxes.
    for path in (font_path, *_CJK_FONTS):
        if path and Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def qr_image(el: QrCode) -> Image.Image:
    qr = qrcode.QRCode(error_correction=_LEVELS.get(el.level, _LEVELS[0x31]), box_size=max(1, el.module), border=4)
    qr.add_data(el.data)
    qr.make(fit=True)
    img: Image.Image = qr.make_image(fill_color="black", back_color="white").get_image()
    return img.convert("L")


def _barcode_image(el: Barcode) -> Image.Image:
    # Not a scannable CODE128: a stand-in pattern with the human-readable text under it.
    img = Image.new("L", (WIDTH, 70), 255)
    draw = ImageDraw.Draw(img)
    x = 20
    for i, ch in enumerate(el.data.encode("ascii", "replace")):
        for bit in range(8):
            if (ch >> bit) & 1 or (i + bit) % 3 == 0:
                draw.rectangle([x, 0, x + 1, 50], fill=0)
            x += 3
            if x > WIDTH - 20:
                break
    draw.text((20, 52), el.data, fill=0, font=_font(14, None))
    return img


def _raster_image(el: Raster) -> Image.Image:
    img = Image.frombytes("1", (el.width_bytes * 8, el.height), el.bits)
    return Image.eval(img.convert("L"), lambda v: 255 - v)  # ESC/POS: a set bit is a black dot


def render_png(receipt: Receipt, path: Path, font_path: str | None = None) -> Path:
    blocks: list[Image.Image] = []
    for el in receipt.elements:
        if isinstance(el, TextLine):
            font = _font(LINE * el.height - 4, font_path)
            img = Image.new("L", (WIDTH, LINE * el.height), 255)
            draw = ImageDraw.Draw(img)
            w = draw.textlength(el.text, font=font) if el.text else 0
            x = {0: 4, 1: (WIDTH - w) / 2, 2: WIDTH - w - 4}.get(el.align, 4)
            draw.text((x, 1), el.text, fill=0, font=font, stroke_width=1 if el.bold else 0, stroke_fill=0)
            blocks.append(img)
        elif isinstance(el, QrCode):
            blocks.append(qr_image(el))
        elif isinstance(el, Barcode):
            blocks.append(_barcode_image(el))
        else:
            blocks.append(_raster_image(el))
    height = sum(b.height for b in blocks) + 40
    page = Image.new("L", (WIDTH, height), 255)
    y = 10
    for b in blocks:
        page.paste(b, ((WIDTH - b.width) // 2 if b.width < WIDTH else 0, y))
        y += b.height
    if receipt.cut:
        ImageDraw.Draw(page).line([(0, height - 5), (WIDTH, height - 5)], fill=128, width=1)
    page.save(path)
    return path
