"""Regenerate the field tables of docs/records.md from nmfexp.record.schema
(run: python docs/make_records_tables.py; --check only says whether they differ)."""

import sys
from pathlib import Path

from nmfexp.record.schema import main

sys.exit(main([str(Path(__file__).with_name("records.md")), *sys.argv[1:]]))
