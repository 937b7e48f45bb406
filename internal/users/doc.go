// Package users is the domain logic for end users: validating and
// normalising profile fields, emails and metadata, hashing passwords with
// argon2id (or accepting an imported bcrypt/argon2 hash), and creating,
// updating and deleting users in one environment.
//
// Emails are normalised (trimmed, lowercased) before they are stored or
// looked up, so one address cannot be registered twice with different case.
package users
