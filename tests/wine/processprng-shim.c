/* FOR TESTS UNDER WINE ONLY; NEVER SHIPPED.
 * Rust's standard library imports ProcessPrng from bcryptprimitives.dll, which Windows 10/11
 * have and Wine 8 lacks. This stand-in, placed beside the .exe under Wine, answers it with
 * RtlGenRandom (advapi32's SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
