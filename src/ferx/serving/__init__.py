"""The HTTP service and its web page."""

# Images decoded and analysed at once by `ferx serve` (others wait their turn): at the 40-megapixel limit one
# decode peaks near 300 MB, so four bound the service's image memory to about 1.2 GB whatever arrives.
MAX_CONCURRENT = 4
