"""Population raster validation on small GeoTIFFs written with rasterio."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.errors import InputError
from layers.raster import validate_population_raster


def write_tif(path, values, *, crs="EPSG:4326", nodata=-1.0, count=1):
    values = np.asarray(values, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=count,
        dtype="float32",
        crs=crs,
        transform=from_origin(102.0, -2.0, 0.01, 0.01),
        nodata=nodata,
    ) as ds:
        for band in range(1, count + 1):
            ds.write(values, band)
    return path


def test_total_and_cells_are_counted_by_hand(tmp_path):
    path = write_tif(tmp_path / "pop.tif", [[1, 2, -1], [3, 4, 5]])  # -1 is nodata
    result = validate_population_raster(path)
    assert result.ok
    assert result.info["population_total"] == 15.0
    assert result.report.notes["valid_cells"] == 5
    assert result.data == path.read_bytes()  # stored exactly as given
    assert result.info["crs"] == "EPSG:4326"


def test_negative_people_become_nodata_and_are_reported(tmp_path):
    path = write_tif(tmp_path / "pop.tif", [[1, -5, 2], [3, 4, 5]], nodata=-9999)
    result = validate_population_raster(path)
    assert result.repaired
    assert result.info["population_total"] == 15.0
    finding = result.report.repaired[0]
    assert finding.code == "raster_negative_cells"
    assert "1 cells" in finding.message
    with rasterio.MemoryFile(result.data) as mem, mem.open() as ds:
        assert ds.read(1, masked=True).sum() == 15.0


def test_partial_coverage_of_the_villages_is_warned(tmp_path):
    path = write_tif(tmp_path / "pop.tif", np.ones((2, 2)))  # covers 102.00-102.02
    villages = gpd.GeoDataFrame(
        {"kode": ["15.02.01.2001"]}, geometry=[shapely.box(102.0, -2.02, 102.04, -2.0)], crs=4326
    )
    result = validate_population_raster(path, workspace_villages=villages)
    assert result.report.notes["village_area_covered"] == pytest.approx(0.5)
    assert [f.code for f in result.report.warnings] == ["raster_partial_coverage"]


def test_raster_without_crs_is_refused(tmp_path):
    path = write_tif(tmp_path / "pop.tif", np.ones((2, 2)), crs=None)
    with pytest.raises(InputError, match=r"pop\.tif.*coordinate reference system"):
        validate_population_raster(path)


def test_all_nodata_is_refused(tmp_path):
    path = write_tif(tmp_path / "pop.tif", np.full((2, 2), -1.0))
    with pytest.raises(InputError, match="every cell is nodata"):
        validate_population_raster(path)


def test_villages_far_from_the_raster_count_as_uncovered_by_their_area(tmp_path):
    path = write_tif(tmp_path / "pop.tif", np.ones((2, 2)))  # covers 102.00-102.02
    villages = gpd.GeoDataFrame(
        {"kode": ["15.02.01.2001", "15.02.01.2002"]},
        geometry=[
            shapely.box(102.0, -2.02, 102.02, -2.0),  # 4 cells, all covered
            shapely.box(110.0, -2.02, 110.02, -1.98),  # 8 cells' area, far away
        ],
        crs=4326,
    )
    result = validate_population_raster(path, workspace_villages=villages)
    assert result.report.notes["village_area_covered"] == pytest.approx(4 / 12)
