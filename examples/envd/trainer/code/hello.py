from tabulate import tabulate

print(tabulate([["envd", "rtc"]], headers=["from", "to"]))
