"""Local Adobe Experience Platform emulator (see server.py for behaviour and error codes)."""
from .catalog_data import REST_FLOW_SPEC_NAME
from .server import INVENTED_CODES, AepEmulator

__all__ = ["AepEmulator", "REST_FLOW_SPEC_NAME", "INVENTED_CODES"]
