"""The request edge every module's pages and API share: the request's session and transaction,
who is asking (through `deps.Identities`, answered by the accounts module), CSRF, refusals
mapped to answers, a refused form given back, downloads and the record of sensitive views. It
imports no module, so that the modules can use it and the application shell (`web`) can
compose them."""
