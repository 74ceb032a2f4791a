"""`segpipe summary` prints the table docs/how-the-model-works.md shows, and points to the page."""

import re

from docs import model_figures as figures
from pipeline import cli


def test_summary_prints_the_documented_table_and_links_to_its_explanation(capsys):
    assert cli.main(["summary", "--encoder-weights", "none", "--freeze-encoder", "yes"]) == 0
    printed = capsys.readouterr().out
    with open(figures.PAGE, encoding="utf-8") as handle:
        page = handle.read()
    block = figures.read_blocks(page)["summary-frozen"].strip()
    table = block.removeprefix("```text").removesuffix("```").strip()
    assert table in printed
    link = re.search(rf"{re.escape(cli.MODEL_DOCS)}#([\w-]+)", printed)
    headings = re.findall(r"^#+ (.+)$", page, flags=re.M)
    anchors = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
    assert link and link.group(1) in anchors  # GitHub's anchor of a heading on the page
