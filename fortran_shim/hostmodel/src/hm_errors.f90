!> Status codes and error messages of the host physics: no `stop`, ever.
!!
!! Every public routine returns an integer status (0 = ok) and, on failure, a message that
!! names the culprit (column, PFT, parameter or forcing variable, the value and the allowed
!! range). Messages live in caller-owned buffers, never in module variables, so batch calls
!! and several models in one process cannot overwrite each other's errors.
module hm_errors
  use, intrinsic :: iso_c_binding, only: c_char, c_null_char, c_int64_t
  use, intrinsic :: ieee_arithmetic, only: ieee_is_nan
  use hm_constants, only: dp
  implicit none
  private

  integer, parameter, public :: hm_ok = 0               !! success
  integer, parameter, public :: hm_err_param = 1        !! a PFT parameter is outside its MdPL range
  integer, parameter, public :: hm_err_surface = 2      !! PFT fractions, soil texture, LAI/SAI or coordinates invalid
  integer, parameter, public :: hm_err_forcing = 3      !! a forcing value is missing (NaN) or implausible (wrong units?)
  integer, parameter, public :: hm_err_state = 4        !! a state value is not finite / not physical
  integer, parameter, public :: hm_err_numeric = 5      !! a solver failed to converge
  integer, parameter, public :: hm_err_argument = 6     !! a size or index argument is invalid
  integer, parameter, public :: hm_err_io = 7           !! file input/output failed (host program)
  integer, parameter, public :: msg_len = 512           !! length of Fortran-side messages

  public :: copy_msg_to_c, fmt_real, fmt_int

  !> An integer (default kind or c_int64_t) as a string for messages.
  interface fmt_int
    module procedure fmt_int64, fmt_int_default
  end interface fmt_int

contains

  !> Copy a Fortran message into a C buffer of `buflen` bytes, NUL-terminated (truncating).
  subroutine copy_msg_to_c(msg, buf, buflen)
    character(len=*), intent(in) :: msg                    !! message to copy
    integer(c_int64_t), intent(in) :: buflen               !! capacity of buf in bytes (incl. NUL)
    character(kind=c_char), intent(inout) :: buf(*)        !! destination C char buffer
    integer(c_int64_t) :: i, n
    if (buflen <= 0) return
    n = min(int(len_trim(msg), c_int64_t), buflen - 1)
    do i = 1, n
      buf(i) = msg(i:i)
    end do
    buf(n + 1) = c_null_char
  end subroutine copy_msg_to_c

  !> A real number as a short string for messages (`g` format, trimmed).
  function fmt_real(x) result(s)
    real(dp), intent(in) :: x                              !! value to format
    character(len=:), allocatable :: s
    character(len=32) :: tmp
    if (ieee_is_nan(x)) then
      tmp = 'NaN'
    else
      write (tmp, '(es12.5)') x
    end if
    s = trim(adjustl(tmp))
  end function fmt_real

  !> A c_int64_t integer as a string for messages.
  function fmt_int64(i) result(s)
    integer(c_int64_t), intent(in) :: i                    !! value to format
    character(len=:), allocatable :: s
    character(len=24) :: tmp
    write (tmp, '(i0)') i
    s = trim(tmp)
  end function fmt_int64

  !> A default integer as a string for messages.
  function fmt_int_default(i) result(s)
    integer, intent(in) :: i                               !! value to format
    character(len=:), allocatable :: s
    s = fmt_int64(int(i, c_int64_t))
  end function fmt_int_default

end module hm_errors
