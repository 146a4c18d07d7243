"""Local Adobe Experience Platform emulator (see app.py for the module of each AEP service, and
aep_errors.py for the error bodies and codes)."""
from .aep_errors import INVENTED_CODES
from .app import AepEmulator

__all__ = ["AepEmulator", "INVENTED_CODES"]
