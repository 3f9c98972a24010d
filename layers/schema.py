"""One canonical schema per layer kind.

Every reader produces whatever columns its file has; :mod:`layers.validate` maps them
onto the schemas below. The column names are the ones stored, exported and shown.
Codes are text everywhere. All geometries are stored in EPSG:4326 (lon/lat); metric work
reprojects to a CRS chosen for the area (:mod:`layers.crs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from layers.errors import N_

STORAGE_CRS = "EPSG:4326"

Dtype = Literal["text", "int", "float", "date", "category"]


@dataclass(frozen=True)
class Column:
    """A canonical column: its type, whether it is required, and names it is found under."""

    name: str
    dtype: Dtype
    required: bool = False
    aliases: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """The canonical shape of one layer kind."""

    kind: str
    columns: tuple[Column, ...]
    geometry: tuple[str, ...] = ()  # allowed geometry types; empty = no geometry
    id_column: str | None = None
    geometry_optional: bool = False
    description: str = ""
    numeric_extra: bool = False  # any further numeric columns are kept (indicator tables)

    @property
    def column_names(self) -> list[str]:
        """Canonical column names in order (geometry excluded)."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column spec called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.kind} has no column {name!r}; columns: {self.column_names}")


# --- facility taxonomy -----------------------------------------------------------------

#: Facility types by sector. Keys are the stored values.
FACILITY_TYPES: dict[str, str] = {
    "hospital": "health",
    "puskesmas": "health",
    "pustu": "health",
    "poskesdes": "health",
    "posyandu": "health",
    "clinic": "health",
    "paud": "education",
    "sd": "education",
    "smp": "education",
    "sma": "education",
    "water_point": "water",
    "other": "other",
}

#: Names found in real files (Kemenkes, Dapodik, OSM, Kobo forms), lower-cased, for each type.
FACILITY_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "hospital": (
        "rumah sakit",
        "rs",
        "rsu",
        "rsud",
        "rumah sakit umum",
        "rumah sakit khusus",
        "rs umum",
        "rs khusus",
        "hospital",
        "rsia",
    ),
    "puskesmas": (
        "puskesmas",
        "pkm",
        "puskesmas rawat inap",
        "puskesmas non rawat inap",
        "puskesmas perawatan",
        "health centre",
        "health center",
        "community health centre",
    ),
    "pustu": ("pustu", "puskesmas pembantu", "auxiliary health centre", "puskesmas keliling"),
    "poskesdes": ("poskesdes", "polindes", "pos kesehatan desa", "village health post"),
    "posyandu": ("posyandu", "pos pelayanan terpadu", "integrated service post"),
    "clinic": (
        "klinik",
        "klinik pratama",
        "klinik utama",
        "clinic",
        "doctors",
        "dentist",
        "praktik dokter",
        "praktek dokter",
        "balai pengobatan",
        "laboratorium",
        "apotek",
        "pharmacy",
    ),
    "paud": ("paud", "tk", "taman kanak-kanak", "kb", "kelompok bermain", "ra", "kindergarten"),
    "sd": ("sd", "sekolah dasar", "mi", "madrasah ibtidaiyah", "primary school", "sdn"),
    "smp": (
        "smp",
        "sekolah menengah pertama",
        "mts",
        "madrasah tsanawiyah",
        "smpn",
        "junior secondary school",
    ),
    "sma": (
        "sma",
        "smk",
        "ma",
        "sekolah menengah atas",
        "sekolah menengah kejuruan",
        "madrasah aliyah",
        "sman",
        "smkn",
        "senior secondary school",
    ),
    "water_point": (
        "water point",
        "water_point",
        "sumur",
        "sumur bor",
        "sumur gali",
        "mata air",
        "hidran umum",
        "hu",
        "kran umum",
        "penampungan air hujan",
        "pah",
        "sarana air bersih",
        "sab",
        "spam",
        "water",
        "well",
        "borehole",
        "spring",
        "tap",
        "drinking_water",
    ),
    "other": ("other", "lainnya", "lain-lain", "lain"),
}

# --- needs vocabularies ------------------------------------------------------------------

NEED_CATEGORIES: tuple[str, ...] = (
    "water",
    "sanitation",
    "health",
    "nutrition",
    "education",
    "economy",
    "infrastructure",
    "other",
)
NEED_CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "water": ("air", "air bersih", "air minum", "water", "clean water"),
    "sanitation": ("sanitasi", "jamban", "mck", "sanitation", "toilet", "sampah", "limbah"),
    "health": ("kesehatan", "health", "kesehatan ibu dan anak", "kia"),
    "nutrition": ("gizi", "stunting", "nutrition", "gizi buruk", "pangan"),
    "education": ("pendidikan", "sekolah", "education"),
    "economy": (
        "ekonomi",
        "economy",
        "usaha",
        "umkm",
        "pertanian",
        "livelihood",
        "mata pencaharian",
    ),
    "infrastructure": (
        "infrastruktur",
        "jalan",
        "jembatan",
        "listrik",
        "infrastructure",
        "road",
        "bridge",
    ),
    "other": ("lainnya", "lain-lain", "lain", "other"),
}
NEED_SOURCES: tuple[str, ...] = ("musrenbang", "survey", "complaint", "field_visit")
NEED_SOURCE_ALIASES: dict[str, tuple[str, ...]] = {
    "musrenbang": ("musrenbang", "musrenbangdes", "musdes", "musyawarah desa"),
    "survey": ("survey", "survei", "kobo", "kuesioner", "sensus"),
    "complaint": ("complaint", "pengaduan", "keluhan", "aduan", "lapor", "lapor!"),
    "field_visit": ("field visit", "field_visit", "kunjungan lapangan", "kunjungan", "observasi"),
}
NEED_STATUSES: tuple[str, ...] = ("open", "verified", "in_progress", "addressed", "closed")
NEED_STATUS_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "baru", "dilaporkan", "terbuka", "belum"),
    "verified": ("verified", "terverifikasi", "diverifikasi"),
    "in_progress": ("in progress", "in_progress", "diproses", "dalam proses", "berjalan"),
    "addressed": ("addressed", "ditangani", "sudah ditangani", "selesai ditangani", "done"),
    "closed": ("closed", "ditutup", "selesai"),
}

VILLAGE_TYPES: tuple[str, ...] = ("desa", "kelurahan")

# --- the layer specs ---------------------------------------------------------------------

VILLAGES = LayerSpec(
    kind="villages",
    description="Village (desa/kelurahan) polygons keyed by Kemendagri code",
    geometry=("Polygon", "MultiPolygon"),
    id_column="kode",
    columns=(
        Column(
            "kode",
            "text",
            True,
            (
                "kode",
                "kode_desa",
                "kode_kel",
                "kode_kemendagri",
                "kode_wilayah",
                "kode10",
                "kd_desa",
                "kdepum",
                "code",
                "village_code",
                "id_desa",
                "kode_dagri_desa",
            ),
            description="Kemendagri village code PP.KK.CC.DDDD",
        ),
        Column(
            "name",
            "text",
            True,
            (
                "nama",
                "nama_desa",
                "nama_kel",
                "nama_desa_kel",
                "desa",
                "kelurahan",
                "name",
                "village",
                "village_name",
                "namobj",
                "wadmkd",
            ),
            description="village name",
        ),
        Column("kecamatan_kode", "text", description="Kemendagri kecamatan code PP.KK.CC"),
        Column(
            "kecamatan",
            "text",
            aliases=("nama_kec", "kecamatan", "wadmkc", "district"),
            description="kecamatan (district) name",
        ),
        Column("kabupaten_kode", "text", description="Kemendagri kabupaten/kota code PP.KK"),
        Column(
            "kabupaten",
            "text",
            aliases=("nama_kab", "kabupaten", "kab_kota", "wadmkk", "regency"),
            description="kabupaten/kota (regency) name",
        ),
        Column("provinsi_kode", "text", description="Kemendagri province code PP"),
        Column(
            "provinsi",
            "text",
            aliases=("nama_prov", "provinsi", "wadmpr", "province"),
            description="province name",
        ),
        Column(
            "village_type",
            "category",
            aliases=("jenis", "jenis_wilayah", "tipe_desa", "status_pemerintahan"),
            allowed=VILLAGE_TYPES,
            description="desa or kelurahan, from the first digit of the village part",
        ),
        Column(
            "population",
            "float",
            aliases=("population", "penduduk", "jumlah_penduduk", "jml_penduduk", "pop", "jiwa"),
            description="people (optional)",
        ),
    ),
)

FACILITIES = LayerSpec(
    kind="facilities",
    description="Facility points: health, education, water and other services",
    geometry=("Point",),
    id_column="facility_id",
    columns=(
        Column(
            "facility_id",
            "text",
            False,
            (
                "facility_id",
                "id",
                "fid",
                "kode_faskes",
                "npsn",
                "kode_fasilitas",
                "osm_id",
                "_uuid",
                "_id",
            ),
            description="identifier unique in the layer; generated when absent",
        ),
        Column(
            "name",
            "text",
            True,
            ("nama", "name", "nama_faskes", "nama_fasilitas", "nama_sekolah", "nama_sarana"),
            description="facility name",
        ),
        Column(
            "type",
            "category",
            True,
            (
                "type",
                "jenis",
                "jenis_faskes",
                "tipe",
                "kategori",
                "jenis_fasilitas",
                "bentuk_pendidikan",
                "amenity",
                "healthcare",
            ),
            allowed=tuple(FACILITY_TYPES),
            description="type from the taxonomy",
        ),
        Column(
            "sector",
            "category",
            allowed=("health", "education", "water", "other"),
            description="derived from type",
        ),
        Column(
            "capacity",
            "float",
            aliases=("capacity", "kapasitas", "tempat_tidur", "beds", "daya_tampung"),
            description="optional capacity (beds, pupils, households served)",
        ),
        Column(
            "source_code",
            "text",
            aliases=("source_code", "kode_sumber", "kode_faskes_bps"),
            description="the source system's own code (e.g. Kemenkes), kept as text",
        ),
        Column(
            "kode",
            "text",
            aliases=("kode_desa", "kode_wilayah", "kode_kemendagri", "village_code"),
            description="Kemendagri code of the village the point falls in (a given code is "
            "checked against the location)",
        ),
    ),
)

NEEDS = LayerSpec(
    kind="needs",
    description="Reported community needs: points, or rows keyed by village code",
    geometry=("Point",),
    geometry_optional=True,
    id_column="need_id",
    columns=(
        Column(
            "need_id",
            "text",
            False,
            ("need_id", "id", "_uuid", "_id", "no", "nomor"),
            description="identifier unique in the layer; generated when absent",
        ),
        Column(
            "category",
            "category",
            True,
            ("category", "kategori", "bidang", "sektor", "jenis_kebutuhan", "kebutuhan"),
            allowed=NEED_CATEGORIES,
        ),
        Column(
            "severity",
            "int",
            True,
            (
                "severity",
                "tingkat",
                "keparahan",
                "tingkat_keparahan",
                "prioritas",
                "urgensi",
                "skala",
            ),
            description="1 (minor) to 5 (critical)",
        ),
        Column(
            "reported_date",
            "date",
            True,
            (
                "reported_date",
                "tanggal",
                "tanggal_lapor",
                "tgl",
                "date",
                "today",
                "_submission_time",
                "start",
            ),
            description="date the need was reported",
        ),
        Column(
            "source",
            "category",
            False,
            ("source", "sumber", "asal", "sumber_data"),
            allowed=NEED_SOURCES,
        ),
        Column("status", "category", False, ("status", "status_kebutuhan"), allowed=NEED_STATUSES),
        Column(
            "description",
            "text",
            False,
            ("description", "deskripsi", "keterangan", "uraian", "catatan", "text", "note"),
        ),
        Column(
            "kode",
            "text",
            False,
            ("kode", "kode_desa", "kode_wilayah", "village_code", "kode_kemendagri"),
            description="Kemendagri village code; from the point when coordinates exist",
        ),
    ),
)

INDICATORS = LayerSpec(
    kind="indicators",
    description="Village indicator table (PODES, IDM, own surveys): numeric columns by code",
    id_column="kode",
    numeric_extra=True,
    columns=(
        Column(
            "kode",
            "text",
            True,
            (
                "kode",
                "kode_desa",
                "kode_dagri_desa",
                "kode_wilayah",
                "village_code",
                "kode_bps_desa",
                "kode_bps",
                "idbps",
            ),
            description="Kemendagri village code (BPS codes are translated by crosswalk)",
        ),
    ),
)

SPECS: dict[str, LayerSpec] = {s.kind: s for s in (VILLAGES, FACILITIES, NEEDS, INDICATORS)}
KINDS: tuple[str, ...] = tuple(SPECS)
#: What can be imported: the layer kinds above plus a population raster (GeoTIFF).
IMPORT_KINDS: tuple[str, ...] = (*KINDS, "raster")


def get_spec(kind: str) -> LayerSpec:
    """Return the spec for ``kind``, or raise naming the allowed kinds."""
    try:
        return SPECS[kind]
    except KeyError:
        raise ValueError(
            f"unknown layer kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def _alias_index(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for value, names in aliases.items():
        index[value] = value
        for name in names:
            index[name.lower()] = value
    return index


VOCABULARIES: dict[tuple[str, str], dict[str, str]] = {
    ("facilities", "type"): _alias_index(FACILITY_TYPE_ALIASES),
    ("needs", "category"): _alias_index(NEED_CATEGORY_ALIASES),
    ("needs", "source"): _alias_index(NEED_SOURCE_ALIASES),
    ("needs", "status"): _alias_index(NEED_STATUS_ALIASES),
}


@dataclass
class ColumnMatch:
    """How a file's columns were matched to a spec: canonical -> source column."""

    mapping: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)


#: How each facility type is named to people (English; translated where shown).
FACILITY_TYPE_LABELS: dict[str, str] = {
    "hospital": N_("hospital"),
    "puskesmas": N_("puskesmas"),
    "pustu": N_("pustu"),
    "poskesdes": N_("poskesdes"),
    "posyandu": N_("posyandu"),
    "clinic": N_("clinic"),
    "paud": N_("PAUD"),
    "sd": N_("primary school (SD)"),
    "smp": N_("junior secondary school (SMP)"),
    "sma": N_("senior secondary school (SMA)"),
    "water_point": N_("water point"),
    "other": N_("other facility"),
}

#: How each need category is named to people (English; translated where shown).
NEED_CATEGORY_LABELS: dict[str, str] = {
    "water": N_("clean water"),
    "sanitation": N_("sanitation"),
    "health": N_("health"),
    "nutrition": N_("nutrition"),
    "education": N_("education"),
    "economy": N_("economy"),
    "infrastructure": N_("infrastructure"),
    "other": N_("other needs"),
}
