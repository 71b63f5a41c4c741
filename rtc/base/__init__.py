"""What every stage shares: diagnostics and source spans, quantities (durations, sizes), input limits,
and where rtc keeps its files (`home`). Standard library only; imports nothing else of rtc."""
