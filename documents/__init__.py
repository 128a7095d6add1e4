"""Documents and attachments: content-addressed storage, text extraction and OCR.

A library below ``indexer`` and ``portal`` (it never touches OpenSearch):

- ``store``    content-addressed file store (SHA-256 names) on disk;
- ``tika``     the long-lived Apache Tika process (``launcher/tika``) that extracts text, PDF
               text per page;
- ``ocr``      Tesseract (via ``ocrmypdf --skip-text`` for PDFs, directly for images), run only
               on pages with no text layer;
- ``archives`` zip unpacking with limits against bombs;
- ``extract``  the pipeline tying them together, with a per-document time limit and a status
               (queued, extracted, ocr, failed with a reason) for every document;
- ``ledger``   the per-document status ledger (retry the failed ones only).
"""
