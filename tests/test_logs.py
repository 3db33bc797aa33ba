from __future__ import annotations

import json
import logging
import subprocess
import sys

from edge.privacy import mask_id_number, mask_text


def test_masks_resident_ids_cards_and_phones() -> None:
    text = "citizen 11010519491231002X paid with 6222021234567890123 tel 13812345678 at 居民11010519491231002X号"
    masked = mask_text(text)
    assert "11010519491231002X" not in masked
    assert "1101**********002X" in masked
    assert "居民1101**********002X号" in masked
    assert "6222***********0123" in masked
    assert "138****5678" in masked
    assert mask_id_number("350203199001011234") == "3502**********1234"


def test_json_logs_mask_personal_data_and_keep_lazy_args() -> None:
    code = (
        "import logging; from edge import logs; logs.configure('json', 'info');"
        "log = logging.getLogger('t');"
        "log.info('card %s read', '11010519491231002X', extra={'device': 'reader 11010519491231002X'});"
        "log.debug('never formatted %s', object())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 1
    assert lines[0]["msg"] == "card 1101**********002X read"
    assert lines[0]["device"] == "reader 1101**********002X"
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "t"


def test_text_format_masks_exceptions() -> None:
    code = (
        "import logging; from edge import logs; logs.configure('text', 'info');"
        "\ntry:\n    raise ValueError('bad id 11010519491231002X')\n"
        "except ValueError:\n    logging.getLogger('t').exception('failed')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "11010519491231002X" not in result.stderr
    assert "1101**********002X" in result.stderr
    assert logging.getLevelName("INFO") == 20


def test_dict_and_list_extras_are_masked_at_any_depth_without_touching_the_callers_objects() -> None:
    code = (
        "import json, logging; from edge import logs; logs.configure('json', 'info');"
        "card = {'holder': {'id_no': '11010519491231002X', 'phones': ['13812345678']}, 'ids': ['11010519491231002X']};"
        "logging.getLogger('t').info('read', extra={'card': card, 'pair': ('x', '11010519491231002X')});"
        "print(json.dumps(card))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "11010519491231002X" not in result.stderr and "13812345678" not in result.stderr
    line = json.loads(result.stderr.splitlines()[0])
    assert line["card"] == {"holder": {"id_no": "1101**********002X", "phones": ["138****5678"]},
                            "ids": ["1101**********002X"]}
    assert line["pair"] == ["x", "1101**********002X"]
    assert json.loads(result.stdout)["holder"]["id_no"] == "11010519491231002X", "the caller's dict is unchanged"


def test_uncaught_exceptions_in_the_main_thread_and_in_threads_are_masked() -> None:
    code = (
        "import threading; from edge import logs; logs.configure('json', 'info');"
        "t = threading.Thread(target=lambda: int('card 11010519491231002X'), name='reader'); t.start(); t.join();"
        "raise ValueError('bad id 11010519491231002X')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1, "an uncaught exception still ends the program with status 1"
    assert "11010519491231002X" not in result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["msg"] for line in lines] == ["uncaught exception in thread reader", "uncaught exception"]
    assert "ValueError: bad id 1101**********002X" in lines[1]["exc"]
    assert "1101**********002X" in lines[0]["exc"]
