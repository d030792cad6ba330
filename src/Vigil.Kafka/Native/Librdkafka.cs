using System.Reflection;
using System.Runtime.InteropServices;

namespace Vigil.Kafka.Native;

/// <summary>
/// The few librdkafka entry points Confluent.Kafka does not wrap: the mock cluster, and what it
/// takes to own one (a bare <c>rd_kafka_t</c>).
/// </summary>
/// <remarks>
/// The import name is a logical one that <see cref="Resolve"/> maps to the same file
/// Confluent.Kafka binds to. On Debian 12 the package's plain <c>librdkafka.so</c> needs
/// <c>libsasl2.so.3</c>, which Debian lacks, so both end up on <c>centos8-librdkafka.so</c>.
/// Sharing one copy is not needed for correctness (clients reach the mock over TCP, never through
/// pointers), but it keeps one set of librdkafka globals and one mapping of a 15 MB library.
/// </remarks>
internal static partial class Librdkafka
{
    private const string LibraryName = "vigil-librdkafka";

    // Confluent.Kafka tries the plain build first, then the centos8 build (everything statically
    // linked), then alpine's; trying in the same order lands on the file it picked.
    private static readonly string[] s_candidates = ["librdkafka", "centos8-librdkafka"];

    private static readonly Lazy<(nint Handle, string Path)> s_library = new(Load);

    static Librdkafka() =>
        NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, Resolve);

    /// <summary>The path of the loaded native library (for diagnostics).</summary>
    public static string LoadedPath => s_library.Value.Path;

    /// <summary>Loads librdkafka now, so a missing native library fails with a clear message.</summary>
    public static void EnsureLoaded() => _ = s_library.Value;

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == LibraryName ? s_library.Value.Handle : 0;

    private static (nint, string) Load()
    {
        var tried = new List<string>();
        foreach (var directory in CandidateDirectories())
        {
            foreach (var name in s_candidates)
            {
                var path = Path.Combine(directory, name + ".so");
                if (!File.Exists(path))
                {
                    continue;
                }

                tried.Add(path);
                if (NativeLibrary.TryLoad(path, out var handle))
                {
                    return (handle, path);
                }
            }
        }

        // Last resort: the runtime's own probing (deps.json native assets, LD_LIBRARY_PATH).
        foreach (var name in s_candidates)
        {
            tried.Add(name);
            if (NativeLibrary.TryLoad(name, typeof(Librdkafka).Assembly, null, out var handle))
            {
                return (handle, name);
            }
        }

        throw new DllNotFoundException(
            "The embedded Kafka broker needs librdkafka from the librdkafka.redist package, but no build of it could be loaded. " +
            "Tried: " + string.Join(", ", tried) + ". On Debian the plain librdkafka.so needs libsasl2.so.3; the centos8 build " +
            "needs only glibc and should be found under runtimes/linux-x64/native next to the application.");
    }

    private static IEnumerable<string> CandidateDirectories()
    {
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        var roots = new List<string> { AppContext.BaseDirectory };
        var confluent = Path.GetDirectoryName(typeof(Confluent.Kafka.Library).Assembly.Location);
        if (!string.IsNullOrEmpty(confluent))
        {
            roots.Add(confluent);
        }

        foreach (var root in roots)
        {
            yield return Path.Combine(root, "runtimes", rid, "native");
            yield return root;
        }
    }

    public const int ProducerType = 0;
    public const int ConfOk = 0;

    [LibraryImport(LibraryName)]
    public static partial nint rd_kafka_conf_new();

    [LibraryImport(LibraryName)]
    public static partial void rd_kafka_conf_destroy(nint conf);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(LibraryName)]
    public static unsafe partial nint rd_kafka_new(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(LibraryName)]
    public static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(LibraryName)]
    public static partial nint rd_kafka_version_str();

    [LibraryImport(LibraryName)]
    public static partial nint rd_kafka_err2str(int err);

    [LibraryImport(LibraryName)]
    public static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    [LibraryImport(LibraryName)]
    public static partial void rd_kafka_mock_cluster_destroy(nint cluster);

    /// <remarks>Returns a pointer owned by the cluster: never marshal it as a string (that would free it).</remarks>
    [LibraryImport(LibraryName)]
    public static partial nint rd_kafka_mock_cluster_bootstraps(nint cluster);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(nint cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(LibraryName)]
    public static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint cluster, int delayMs);

    [LibraryImport(LibraryName)]
    public static partial void rd_kafka_mock_set_controller_id(nint cluster, int brokerId);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rd_kafka_mock_broker_set_host_port(nint cluster, int brokerId, string host, int port);

    public static string ErrorText(int error) => Marshal.PtrToStringUTF8(rd_kafka_err2str(error)) ?? $"error {error}";
}
