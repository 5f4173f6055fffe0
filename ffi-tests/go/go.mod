module mcpstore

go 1.19
