using System.CommandLine;
using TestGrid.Certification.Keys;
using TestGrid.Input;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid keygen --out FILE</c>: a new bundle signing key, ECDSA P-256: the private key (PKCS#8 PEM, mode 0600)
/// to FILE, the public key (SubjectPublicKeyInfo PEM) to FILE.pub. Prints the paths and the key id, never the keys.
/// </summary>
internal static class KeygenCommand
{
    public static Command Create(CliConsole console)
    {
        var output = new Option<string>("--out") { Description = "The private key's file (mode 0600); the public key goes to FILE.pub. Neither may exist.", Required = true };
        var command = new Command("keygen", "Make a bundle signing key pair (ECDSA P-256). Exit code: 0 written, 3 when a file exists or cannot be written.")
        {
            output,
        };
        command.SetAction(parse =>
        {
            try
            {
                var key = SigningKeys.Generate(parse.GetValue(output)!);
                console.Out.WriteLine($"key {key.KeyId}: private key {key.PrivateKeyFile} (mode 0600, keep it secret), public key {key.PublicKeyFile} (give it to whoever verifies)");
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
