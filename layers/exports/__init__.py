"""Exports for partners and proposals: data files, standalone HTML maps and printed maps.

- :mod:`layers.exports.data`: a workspace's layers as GeoPackage, GeoJSON (RFC 7946),
  CSV, XLSX and zipped Shapefile, codes kept as text;
- :mod:`layers.exports.html_map`: a standalone HTML map that works opened from disk;
- :mod:`layers.exports.static_map`: print-quality PNG and PDF maps (matplotlib);
- :mod:`layers.exports.report`: the proposal report PDF of a targeting scenario;
- :mod:`layers.exports.village_profile`: a one-page PDF profile of a village.
"""
