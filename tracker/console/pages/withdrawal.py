"""(being written: issue 9)"""

from fastapi import APIRouter

router = APIRouter()
