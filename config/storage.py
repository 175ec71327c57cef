"""Static files with their content's hash in their names (config/settings.py
STATIC_HASHED), so browsers may keep them for ever: WhiteNoise serves a hashed name
with a year-long immutable Cache-Control, and gzip when asked.

The pages' scripts are ES modules that import each other by relative path
(`import { h } from "../tongxin/dom.js"`). A page loads `dom.<hash>.js`; were the
imports left alone, `dashboard.<hash>.js` would load `dom.js` too: the same module
twice, under two URLs, each with its own state. Django rewrites the imports to the
hashed names when asked (support_js_module_import_aggregation).
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
