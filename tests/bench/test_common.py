"""The machine record every benchmark result carries: which vector instruction sets the CPU has,
since oneDNN picks its kernels, and so a training's floats, by them."""

from bench.common import VECTOR_EXTENSIONS, machine_snapshot, vector_extensions


def test_vector_extensions_are_read_from_the_cpu_flags_in_a_fixed_order(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx512f avx avx2 fma\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert vector_extensions(str(cpuinfo)) == ["avx2", "fma", "avx512f"]
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2\n")
    assert vector_extensions(str(cpuinfo)) == []


def test_every_benchmark_records_them_with_the_cpu_model():
    snapshot = machine_snapshot()
    assert set(snapshot["vector_extensions"]) <= set(VECTOR_EXTENSIONS)
    assert snapshot["cpu_model"] and snapshot["cores"] >= 1
