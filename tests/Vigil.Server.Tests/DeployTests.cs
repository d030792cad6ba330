using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Vigil.Server.Hosting;
using Vigil.Server.Security;
using YamlDotNet.RepresentationModel;

namespace Vigil.Server.Tests;

/// <summary>
/// deploy/ checked against the application: no Docker engine runs here, so the compose file, the Dockerfile and the
/// Prometheus and Grafana provisioning are read as data and compared with the settings the app reads, the port it
/// listens on, the paths it serves and the metric names its /metrics exposes.
/// </summary>
[Collection(ServeCollection.Name)]
public sealed partial class DeployTests(ServeFixture serve)
{
    private static readonly string s_deploy = Path.Combine(VigilProcess.RepositoryRoot, "deploy");

    [Fact]
    public void Compose_VigilServices_SetOnlySettingsTheAppReads()
    {
        var known = SettingsTheAppReads();
        var services = VigilServices();
        Assert.Equal(2, services.Count);
        foreach (var (name, service) in services)
        {
            foreach (var variable in Environment(service).Keys)
            {
                var key = variable.Replace("__", ":", StringComparison.Ordinal);
                Assert.True(known.Contains(key) || key.StartsWith("Vigil:Kafka:Client:", StringComparison.Ordinal),
                    $"{name} sets {variable}, which Vigil does not read (known: {string.Join(", ", known.Order())})");
            }
        }
    }

    [Fact]
    public void Compose_VigilEnvironment_IsAcceptedByTheAppAndMeansACluster()
    {
        var example = DotEnv(Path.Combine(s_deploy, ".env.example"));
        foreach (var (name, service) in VigilServices())
        {
            var settings = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (variable, value) in Environment(service))
            {
                settings[variable.Replace("__", ":", StringComparison.Ordinal)] = Interpolate(value, example);
            }
            var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

            var options = VigilOptions.From(config);
            var auth = AuthSettings.From(config, options);

            Assert.False(options.UsesEmbeddedBroker, name);
            Assert.Equal("kafka:9092", options.KafkaBootstrapServers);
            Assert.StartsWith("jdbc:postgresql://postgres:5432/", options.PostgresUrl, StringComparison.Ordinal);
            Assert.False(options.RunsSimulator, $"{name} must not feed simulated traffic into a real cluster");
            Assert.Equal(8, options.Partitions);
            // Bound beyond loopback: keys are mandatory and anonymous reading is off.
            Assert.False(auth.LoopbackOnly, name);
            Assert.False(auth.AnonymousViewer, name);
            Assert.Contains(auth.Keys, k => k.Role == Roles.Admin);
            Assert.Contains(auth.Keys, k => k.Name == "prometheus");
        }
    }

    [Fact]
    public void Compose_BothInstances_ShareOneConsumerGroupAndTheSameStore()
    {
        var services = VigilServices();
        var groups = services.Select(s => Environment(s.Service).GetValueOrDefault("Vigil__Kafka__GroupId", "streaming-analytics")).Distinct().ToList();
        Assert.Single(groups);
        Assert.Single(services.Select(s => Environment(s.Service)["POSTGRES_URL"]).Distinct());
    }

    [Fact]
    public void Compose_Ports_MatchWhereVigilListens()
    {
        var dockerfile = File.ReadAllText(Path.Combine(s_deploy, "Dockerfile"));
        var exposed = int.Parse(ExposeLine().Match(dockerfile).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (name, service) in VigilServices())
        {
            var urls = Environment(service)["Vigil__Urls"];
            var listen = new Uri(urls);
            Assert.Equal("0.0.0.0", listen.Host);
            Assert.Equal(exposed, listen.Port);
            var ports = ((YamlSequenceNode)service.Children[new YamlScalarNode("ports")]).Select(p => p.ToString()).ToList();
            Assert.Single(ports);
            Assert.EndsWith($":{listen.Port}", ports[0], StringComparison.Ordinal);
        }
        Assert.Contains("Vigil__Urls=http://0.0.0.0:" + exposed, dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dockerfile_Healthcheck_IsAPathTheAppServesAnonymously()
    {
        var dockerfile = File.ReadAllText(Path.Combine(s_deploy, "Dockerfile"));
        var match = HealthcheckUrl().Match(dockerfile);
        Assert.True(match.Success, "the Dockerfile has no HEALTHCHECK with a URL");
        var url = new Uri(match.Value);
        Assert.Equal("/health/live", url.AbsolutePath);
        Assert.Contains("""ENTRYPOINT ["dotnet", "vigil.dll", "serve"]""", dockerfile, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^USER \$APP_UID", dockerfile);

        using var response = await serve.Http.GetAsync(url.AbsolutePath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public void Prometheus_ScrapesMetricsOfBothInstancesWithTheSecretKey()
    {
        var compose = Compose();
        var config = Yaml(Path.Combine(s_deploy, "prometheus", "prometheus.yml"));
        var job = (YamlMappingNode)((YamlSequenceNode)config.Children[new YamlScalarNode("scrape_configs")]).Single();
        Assert.Equal("/metrics", job.Children[new YamlScalarNode("metrics_path")].ToString());

        var targets = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)job.Children[new YamlScalarNode("static_configs")])[0])
            .Children[new YamlScalarNode("targets")]).Select(t => t.ToString()).Order().ToList();
        var expected = VigilServices().Select(s => $"{s.Name}:{new Uri(Environment(s.Service)["Vigil__Urls"]).Port}").Order().ToList();
        Assert.Equal(expected, targets);

        // The bearer key is the compose secret, which must be one of the keys Vigil accepts.
        var authorization = (YamlMappingNode)job.Children[new YamlScalarNode("authorization")];
        var file = authorization.Children[new YamlScalarNode("credentials_file")].ToString();
        var secretName = Path.GetFileName(file);
        Assert.Equal("/run/secrets/" + secretName, file);
        var prometheus = Service(compose, "prometheus");
        Assert.Contains(secretName, ((YamlSequenceNode)prometheus.Children[new YamlScalarNode("secrets")]).Select(s => s.ToString()));
        var secret = (YamlMappingNode)((YamlMappingNode)compose.Children[new YamlScalarNode("secrets")]).Children[new YamlScalarNode(secretName)];
        var variable = secret.Children[new YamlScalarNode("environment")].ToString();
        foreach (var (_, service) in VigilServices())
        {
            Assert.Contains("${" + variable, Environment(service)["VIGIL_API_KEYS"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Grafana_DashboardQueries_UseMetricsTheAppExposes()
    {
        var exposed = new HashSet<string>(StringComparer.Ordinal);
        var text = await serve.Viewer.GetStringAsync("/metrics");
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                exposed.Add(line.Split(' ')[2]);
            }
        }
        Assert.NotEmpty(exposed);

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(s_deploy, "grafana", "dashboards", "vigil.json")));
        var datasource = Yaml(Path.Combine(s_deploy, "grafana", "provisioning", "datasources", "prometheus.yml"));
        var uid = ((YamlMappingNode)((YamlSequenceNode)datasource.Children[new YamlScalarNode("datasources")])[0]).Children[new YamlScalarNode("uid")].ToString();
        var used = 0;
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            Assert.Equal(uid, panel.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                foreach (Match metric in MetricName().Matches(target.GetProperty("expr").GetString()!))
                {
                    var name = HistogramSuffix().Replace(metric.Value, "");
                    Assert.True(exposed.Contains(name), $"panel '{panel.GetProperty("title")}' queries {metric.Value}, which /metrics does not expose");
                    used++;
                }
            }
        }
        Assert.True(used >= 8, $"only {used} metric references found in the dashboard");
        foreach (var required in new[] { "vigil_events_total", "vigil_processing_latency_seconds", "vigil_alerts_raised_total",
                     "vigil_consumer_lag_messages", "vigil_checkpoint_duration_seconds", "process_resident_memory_bytes", "dotnet_gc_pause_time_ratio" })
        {
            Assert.Contains(required, dashboard.RootElement.GetRawText(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EnvExample_HoldsPlaceholderSecretsOnly_AndTheRealEnvIsIgnored()
    {
        var secrets = 0;
        foreach (var (key, value) in DotEnv(Path.Combine(s_deploy, ".env.example")))
        {
            if (key.Contains("PASSWORD", StringComparison.Ordinal) || key.Contains("KEY", StringComparison.Ordinal))
            {
                Assert.StartsWith("change-me", value, StringComparison.Ordinal);
                secrets++;
            }
        }
        Assert.True(secrets >= 4);
        Assert.Contains("deploy/.env", File.ReadAllLines(Path.Combine(VigilProcess.RepositoryRoot, ".gitignore")));
    }

    /// <summary>The configuration keys VigilOptions and AuthSettings read, taken from their source, so a rename there fails here.</summary>
    private static HashSet<string> SettingsTheAppReads()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in new[] { "Hosting/VigilOptions.cs", "Security/AuthSettings.cs" })
        {
            var source = File.ReadAllText(Path.Combine(VigilProcess.RepositoryRoot, "src", "Vigil.Server", file));
            foreach (Match m in ConfigRead().Matches(source))
            {
                // config["X"] is a root key; section["X"] and the typed helpers read under the Vigil section.
                var key = m.Groups["key"].Value;
                keys.Add(m.Groups["root"].Success ? key : "Vigil:" + key);
            }
        }
        for (var i = 0; i < 10; i++)
        {
            foreach (var field in new[] { "Name", "Key", "Role" })
            {
                keys.Add($"Vigil:Auth:Keys:{i}:{field}");
            }
        }
        Assert.Contains("KAFKA_BOOTSTRAP_SERVERS", keys);
        Assert.Contains("Vigil:Urls", keys);
        Assert.Contains("VIGIL_API_KEYS", keys);
        return keys;
    }

    private static YamlMappingNode Compose() => Yaml(Path.Combine(s_deploy, "docker-compose.yml"));

    private static YamlMappingNode Service(YamlMappingNode compose, string name) =>
        (YamlMappingNode)((YamlMappingNode)compose.Children[new YamlScalarNode("services")]).Children[new YamlScalarNode(name)];

    /// <summary>The services that run the Vigil image.</summary>
    private static List<(string Name, YamlMappingNode Service)> VigilServices()
    {
        var services = (YamlMappingNode)Compose().Children[new YamlScalarNode("services")];
        var result = new List<(string, YamlMappingNode)>();
        foreach (var (key, value) in services.Children)
        {
            var service = (YamlMappingNode)value;
            if (service.Children.TryGetValue(new YamlScalarNode("image"), out var image) && image.ToString().StartsWith("vigil", StringComparison.Ordinal))
            {
                result.Add((key.ToString(), service));
            }
        }
        return result;
    }

    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        ((YamlMappingNode)service.Children[new YamlScalarNode("environment")]).Children
            .ToDictionary(kv => kv.Key.ToString(), kv => kv.Value.ToString(), StringComparer.Ordinal);

    private static YamlMappingNode Yaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static Dictionary<string, string> DotEnv(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            values[line[..eq]] = line[(eq + 1)..];
        }
        Assert.NotEmpty(values);
        return values;
    }

    /// <summary>Compose's ${VAR}, ${VAR:?message} and ${VAR:-default} from the .env values.</summary>
    private static string Interpolate(string value, Dictionary<string, string> env) =>
        ComposeVariable().Replace(value, m => env.TryGetValue(m.Groups[1].Value, out var v) ? v
            : throw new InvalidOperationException($"{m.Groups[1].Value} is not in .env.example"));

    [GeneratedRegex(@"(?:(?<root>config)\[|section\[|(?:Int|Double|Bool|Time)\(section,\s*)""(?<key>[A-Za-z_][A-Za-z0-9_:]*)""")]
    private static partial Regex ConfigRead();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[?-][^}]*)?\}")]
    private static partial Regex ComposeVariable();

    [GeneratedRegex(@"(?m)^EXPOSE (\d+)")]
    private static partial Regex ExposeLine();

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/[A-Za-z/]+")]
    private static partial Regex HealthcheckUrl();

    [GeneratedRegex(@"\b(?:vigil|process|dotnet)_[a-z_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(?:bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}
