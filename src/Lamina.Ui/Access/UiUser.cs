using Lamina.Tracking;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Access;

/// <summary>Who a request comes from: a token's owner and role, or, on a loopback binding without tokens, this machine's user as admin.</summary>
/// <param name="TokenId">The token's id, or null for the token-less local user.</param>
internal sealed record UiUser(string Owner, AccessRole Role, string? TokenId)
{
    private const string Key = "lamina.ui.user";

    /// <summary>The actor audit entries of this user's writes name: <c>ui:OWNER</c>.</summary>
    public string Actor => "ui:" + Owner;

    public bool May(AccessRole role) => Role >= role;

    public static UiUser Of(HttpContext context) =>
        context.Items.TryGetValue(Key, out var user) && user is UiUser u ? u : throw new InvalidOperationException("no user on this request: the access gate did not run");

    public void AttachTo(HttpContext context) => context.Items[Key] = this;
}
