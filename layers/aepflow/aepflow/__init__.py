"""aepflow: provision and watch Adobe Experience Platform source dataflows.

All real logic lives in this package (the shared Lambda layer); the handlers in
functions/ only parse their event, call one function here and return JSON.
"""
