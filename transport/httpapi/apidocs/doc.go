// Package apidocs holds revocd's API documentation: the hand-written
// OpenAPI 3.1 document served at GET /openapi.json and the interactive
// Swagger UI page served at GET /docs, both embedded in the binary so that
// nothing is fetched from a CDN or any other external site at run time.
//
// The package imports no HTTP framework: the transport layer asks for bytes
// and a content type and serves them itself.
//
// # Vendored files
//
// assets/swagger-ui-bundle.js, assets/swagger-ui.css and assets/LICENSE are
// copied unmodified from the npm package swagger-ui-dist version 5.35.0
// (Apache License 2.0; sha512 integrity and file hashes in assets/VERSION).
// Its NOTICE file reads:
//
//	swagger-ui
//	Copyright 2020-2021 SmartBear Software Inc.
//
// assets/index.html is revocd's own: it boots SwaggerUIBundle on
// "/openapi.json" with try-it-out enabled and persisted authorization, and
// loads its script and style sheet from "/docs/...".
//
// To upgrade, run `npm pack swagger-ui-dist@VERSION` in a scratch directory,
// copy the three files above from the tarball's package/ folder, and update
// assets/VERSION and swaggerUIVersion.
package apidocs
