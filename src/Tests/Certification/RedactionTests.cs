using System.Security.Cryptography;
using TestGrid.Certification;
using TestGrid.Input;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Certification;

/// <summary>Identifying values leave a certification run only as keyed tokens, which the key's holder maps back.</summary>
[TestFixture]
public sealed class RedactionTests
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);
    private static readonly HardwareFacts Facts = HardwareCollector.Parse(HardwareCollectorTests.Captured);

    private const string Log = """
        System serial 7XK2QH3, board .7XK2QH3.CNFCP0024200BY., uuid 4c4c4544-0058-4b10-8032-b7c04f514833
        eno1: link up, address B4:96:91:AA:BB:01 (b4-96-91-aa-bb-01 in the BMC), eno2 b4:96:91:aa:bb:02
        nvme0n1 serial Y1X0A04ZTC8G; sda S47MNE0M812345
        Welcome to lab-7 (lab-7.partner.example), machine 9F3B2C1D4E5F60718293A4B5C6D7E8F9
        a stranger's MAC 00:1A:2B:3C:4D:5E and 00-1a-2b-3c-4d-5f; not a MAC: fe80::1, 12:34:56, 2001:db8::aa:bb:cc:dd:ee:ff
        Asset tag: Not Specified; BIOS 2.19.1; Default string; None; To Be Filled By O.E.M.
        """;

    private static readonly string[] Identifying =
    [
        "7XK2QH3", "CNFCP0024200BY", "4c4c4544-0058-4b10-8032-b7c04f514833", "B4:96:91:AA:BB:01", "b4-96-91-aa-bb-01", "b4:96:91:aa:bb:02",
        "Y1X0A04ZTC8G", "S47MNE0M812345", "lab-7", "9F3B2C1D4E5F60718293A4B5C6D7E8F9", "00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f",
    ];

    [Test]
    public void Every_added_value_is_gone_from_a_text_in_every_form()
    {
        var redactor = new Redactor(Key);
        redactor.AddFacts(Facts);
        var redacted = redactor.Redact(Log);
        TestContext.Out.WriteLine(redacted);
        Assert.Multiple(() =>
        {
            foreach (var value in Identifying) Assert.That(redacted, Does.Not.Contain(value).IgnoreCase, value);
            var mac = redactor.Token("mac", "b4:96:91:aa:bb:01");
            Assert.That(redacted.Split(mac).Length - 1, Is.EqualTo(2), "the MAC in upper case with ':' and lower case with '-' gives one token");
            Assert.That(redacted, Does.Contain(redactor.Token("uuid", "4C4C4544-0058-4B10-8032-B7C04F514833")));
            Assert.That(redacted, Does.Contain($"Welcome to {redactor.Token("hostname", "lab-7")} ({redactor.Token("hostname", "lab-7.partner.example")})"));
            Assert.That(redacted, Does.Contain(redactor.Token("mac", "00:1a:2b:3c:4d:5e")), "a MAC-shaped string is redacted even when not added");
            Assert.That(redacted, Does.Contain("fe80::1, 12:34:56, 2001:db8::aa:bb:cc:dd:ee:ff"), "what is not a MAC stays");
            Assert.That(redacted, Does.Contain("Asset tag: Not Specified; BIOS 2.19.1; Default string; None; To Be Filled By O.E.M."), "placeholders stay");
        });
    }

    [Test]
    public void Tokens_are_stable_for_a_key_and_differ_for_another()
    {
        var one = new Redactor(Key);
        var again = new Redactor((byte[])Key.Clone());
        var other = new Redactor(RandomNumberGenerator.GetBytes(32));
        var token = one.Token("serial", "7XK2QH3");
        Assert.Multiple(() =>
        {
            Assert.That(token, Does.Match(@"^\[serial:[0-9a-f]{16}\]$"));
            Assert.That(again.Token("serial", "7XK2QH3"), Is.EqualTo(token));
            Assert.That(other.Token("serial", "7XK2QH3"), Is.Not.EqualTo(token));
            Assert.That(one.Token("asset-tag", "7XK2QH3"), Is.Not.EqualTo(token.Replace("serial", "asset-tag", StringComparison.Ordinal)), "the kind is hashed too");
            Assert.That(one.Token("mac", "AA-BB-CC-DD-EE-01"), Is.EqualTo(one.Token("mac", "aa:bb:cc:dd:ee:01")));
            Assert.That(one.Token("uuid", "4C4C4544-0058"), Is.EqualTo(one.Token("uuid", "4c4c4544-0058")));
            Assert.That(Convert.ToHexStringLower(HMACSHA256.HashData(Key, "serial:7XK2QH3"u8))[..16], Is.EqualTo(token[8..^1]), "HMAC-SHA256(key, kind:value)");
        });
        var first = one.Redact(Facts);
        one.AddFacts(Facts);
        again.AddFacts(Facts);
        Assert.That(again.Redact(Log), Is.EqualTo(one.Redact(Log)));
        var second = new Redactor((byte[])Key.Clone()).Redact(Facts);
        Assert.That((second.SystemSerial, second.Nics[0].Mac, second.Hostname), Is.EqualTo((first.SystemSerial, first.Nics[0].Mac, first.Hostname)));
    }

    [TestCase("")]
    [TestCase("0")]
    [TestCase("None")]
    [TestCase("To Be Filled By O.E.M.")]
    [TestCase("Not Specified")]
    [TestCase("Default string")]
    [TestCase("00:00:00:00:00:00")]
    [TestCase("00000000-0000-0000-0000-000000000000")]
    [TestCase("   ")]
    public void Placeholders_are_never_tokens(string placeholder)
    {
        var redactor = new Redactor(Key);
        foreach (var kind in Redactor.Kinds.All.Where(k => k != "mac" || placeholder.Contains(':', StringComparison.Ordinal))) redactor.Add(kind, placeholder);
        const string Text = "None of this is Not Specified: 0 errors, Default string, To Be Filled By O.E.M., uuid 00000000-0000-0000-0000-000000000000";
        Assert.That(redactor.Redact(Text), Is.EqualTo(Text));
        Assert.That(Redactor.IsPlaceholder(placeholder), Is.True);
        var facts = Facts with { AssetTag = placeholder, SystemSerial = placeholder };
        Assert.That(redactor.Redact(facts) is { AssetTag: var tag, SystemSerial: var serial } && tag == placeholder && serial == placeholder, Is.True);
    }

    [Test]
    public void Redacted_facts_carry_tokens_for_every_identifying_field()
    {
        var redactor = new Redactor(Key);
        var redacted = redactor.Redact(Facts with { Hostname = "lab-7", BiosVersion = "serial 7XK2QH3 inside" });
        Assert.Multiple(() =>
        {
            Assert.That(redacted.SystemSerial, Is.EqualTo(redactor.Token("serial", "7XK2QH3")));
            Assert.That(redacted.ChassisSerial, Is.EqualTo(redacted.SystemSerial));
            Assert.That(redacted.BoardSerial, Is.EqualTo(redactor.Token("serial", ".7XK2QH3.CNFCP0024200BY.")));
            Assert.That(redacted.SystemUuid, Is.EqualTo(redactor.Token("uuid", "4c4c4544-0058-4b10-8032-b7c04f514833")));
            Assert.That(redacted.MachineId, Is.EqualTo(redactor.Token("uuid", Facts.MachineId!)));
            Assert.That(redacted.AssetTag, Is.EqualTo("Not Specified"), "a placeholder stays");
            Assert.That((redacted.Hostname, redacted.Fqdn), Is.EqualTo((redactor.Token("hostname", "lab-7"), redactor.Token("hostname", "lab-7.partner.example"))));
            Assert.That(redacted.Disks.Select(d => d.Serial), Is.EqualTo(Facts.Disks.Select(d => redactor.Token("serial", d.Serial!))));
            Assert.That(redacted.Nics.Select(n => n.Mac), Is.EqualTo(Facts.Nics.Select(n => redactor.Token("mac", n.Mac!))));
            Assert.That(redacted.BiosVersion, Is.EqualTo("serial 7XK2QH3 inside"), "without AddFacts, only MAC shapes are found in free text");
            Assert.That((redacted.CpuModel, redacted.Cpus, redacted.Disks[0].SizeBytes, redacted.Nics[0].Driver), Is.EqualTo((Facts.CpuModel, Facts.Cpus, Facts.Disks[0].SizeBytes, "ixgbe")));
        });
        redactor.AddFacts(Facts);
        Assert.That(redactor.Redact(Facts with { BiosVersion = "serial 7XK2QH3 inside" }).BiosVersion, Is.EqualTo($"serial {redactor.Token("serial", "7XK2QH3")} inside"));
    }

    [Test]
    public void Redacted_facts_travel_as_json_without_an_identifying_value()
    {
        var redactor = new Redactor(Key);
        redactor.AddFacts(Facts);
        var json = System.Text.Json.JsonSerializer.Serialize(redactor.Redact(Facts), TestGridJsonContext.Default.HardwareFacts);
        foreach (var value in Identifying.Where(v => !v.StartsWith("00", StringComparison.Ordinal)))
            Assert.That(json, Does.Not.Contain(value).IgnoreCase, value);
        var back = System.Text.Json.JsonSerializer.Deserialize(json, TestGridJsonContext.Default.HardwareFacts)!;
        Assert.That((back.SystemSerial, back.Cpus, back.Nics.Count, back.Disks[0].SizeBytes, back.PciDevices[1].Id),
            Is.EqualTo((redactor.Token("serial", "7XK2QH3"), Facts.Cpus, 3, Facts.Disks[0].SizeBytes, "8086:1572")));
    }

    [Test]
    public void The_key_holder_maps_tokens_back()
    {
        var redactor = new Redactor(Key);
        redactor.AddFacts(Facts);
        var redacted = redactor.Redact(Log);
        var map = Redactor.MapBack(Key, Redactor.Identifying(Facts));
        var restored = System.Text.RegularExpressions.Regex.Replace(redacted, @"\[[a-z-]+:[0-9a-f]{16}\]", m => map.TryGetValue(m.Value, out var v) ? v : m.Value);
        Assert.Multiple(() =>
        {
            Assert.That(map[redactor.Token("serial", "7XK2QH3")], Is.EqualTo("7XK2QH3"));
            Assert.That(map[redactor.Token("mac", "B4:96:91:AA:BB:01")], Is.EqualTo("b4:96:91:aa:bb:01"));
            Assert.That(restored, Does.Contain("System serial 7XK2QH3").And.Contain("Welcome to lab-7 (lab-7.partner.example)"));
            Assert.That(Redactor.MapBack(RandomNumberGenerator.GetBytes(32), Redactor.Identifying(Facts)).Keys.Intersect(map.Keys), Is.Empty, "another key maps nothing back");
        });
    }

    [Test]
    public void An_unknown_kind_is_refused() =>
        Assert.Throws<ArgumentException>(() => new Redactor(Key).Add("password", "secret"));

    [Test]
    public void A_key_is_created_once_with_its_folder_mode_0600_and_loaded_again()
    {
        using var workspace = new Workspace();
        var path = workspace.Path("keys", "partner", "redaction.key");
        var key = RedactionKey.LoadOrCreate(path);
        Assert.Multiple(() =>
        {
            Assert.That(key, Has.Length.EqualTo(32));
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(Convert.FromBase64String(File.ReadAllText(path).Trim()), Is.EqualTo(key));
            Assert.That(RedactionKey.LoadOrCreate(path), Is.EqualTo(key));
            Assert.That(RedactionKey.Load(path), Is.EqualTo(key));
            Assert.That(RedactionKey.LoadOrCreate(workspace.Path("other.key")), Is.Not.EqualTo(key));
        });
    }

    [TestCase("not base64 at all!", "not base64")]
    [TestCase("AAAA", "holds 3 bytes")]
    [TestCase("", "holds 0 bytes")]
    public void A_malformed_key_file_is_an_input_error_naming_the_file(string content, string message)
    {
        using var workspace = new Workspace();
        var path = workspace.Write("bad.key", content);
        var error = Assert.Throws<InputException>(() => RedactionKey.LoadOrCreate(path))!.Errors.Single();
        Assert.That(error.File, Is.EqualTo(path));
        Assert.That(error.Message, Does.Contain(message).And.Contain("expected a redaction key"));
        Assert.That(File.ReadAllText(path), Is.EqualTo(content), "a malformed key is never replaced");
        var missing = Assert.Throws<InputException>(() => RedactionKey.Load(workspace.Path("none.key")))!.Errors.Single();
        Assert.That(missing.ToString(), Does.Contain("none.key").And.Contain("not found"));
    }
}
