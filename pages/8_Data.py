"""Data: import records, manage the datasets, and check the data quality of the dataset being viewed."""

import ui
from ui import datasets, quality, upload

view = ui.setup_page("Data", without_dataset=True)   # a manager with no dataset yet imports one here
ui.start_report("Data quality", view)
store = upload.store_for(view)
upload.import_section(store, view)
datasets.datasets_section(view)
quality.quality_section(view)
ui.finish(view, "data")
