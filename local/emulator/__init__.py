"""Local Adobe Experience Platform emulator (see server.py for behaviour and error codes)."""
from .server import INVENTED_CODES, AepEmulator

__all__ = ["AepEmulator", "INVENTED_CODES"]
