"""The model: customers, fee standards and behaviour, and the compiled monthly engine.

Everything here follows docs/model.md section by section: :mod:`.draws` (§8), :mod:`.population`
(§2), :mod:`.fees` and :mod:`.schedule` (§3.3–3.4), :mod:`.behaviour` and :mod:`.operations`
(§3.5–3.13), and :mod:`.engine`, the month-by-month loop over named steps. The functions the engine
calls per customer are compiled with Numba (nopython, cached on disk).
"""
