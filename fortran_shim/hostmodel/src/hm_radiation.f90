!> Canopy shortwave radiation of one patch: visible and near-infrared, direct and diffuse.
!!
!! A documented simple canopy scheme in the spirit of ILS/MATSIRO's leaf optics, after
!! Goudriaan (1977) and Goudriaan & van Laar (1994), as used by de Pury & Farquhar (1997):
!!  - leaf+stem single-scattering albedo omega = w_l (rho_l + tau_l) + w_s (rho_s + tau_s),
!!    with leaf reflectances rlfv (visible), rlfn (NIR) and NIR transmittance tlfn (the
!!    calibrated parameters) and CLM4.5 stem optics; 1 - omega is floored at 0.02;
!!  - spherical leaf angles: black-leaf extinction k_b = 0.5 / mu for the beam and
!!    k_d = 0.8 for diffuse light; scattering reduces them to k' = k sqrt(1 - omega);
!!  - reflectance of a deep canopy rho_h = (1 - sqrt(1-omega)) / (1 + sqrt(1-omega)),
!!    rho_c = 1 - exp(-2 rho_h k / (1 + k)); a finite canopy over ground of albedo a_g reflects
!!    R = rho_c + (a_g - rho_c) T_down T_up with T = exp(-k' (L + S));
!!  - the canopy absorbs (1 - rho_c)(1 - T_down) of each beam (the ground the rest of 1 - R),
!!    so canopy + ground absorption + reflection = incident exactly;
!!  - vgcov is the vegetated fraction of the patch; leaves are clumped on it (local LAI =
!!    LAI / vgcov); the rest of the patch is bare ground.
module hm_radiation
  use hm_constants, only: dp, tau_leaf_vis, rho_stem_vis, rho_stem_nir, tau_stem_vis, &
       tau_stem_nir
  implicit none
  private

  real(dp), parameter :: kd_black = 0.8_dp   !! diffuse extinction of black spherical leaves

  public :: canopy_shortwave

contains

  !> Absorbed shortwave of a patch, absorbed PAR of its leaves, and the PAR extinction
  !! coefficient used to scale leaf photosynthesis to the canopy (Sellers et al. 1992).
  pure subroutine canopy_shortwave(swdir, swdif, coszen, lai_loc, sai_loc, fveg, rlfv, rlfn, &
       tlfn, alb_g, sw_abs, sw_abs_veg, apar, kpar)
    real(dp), intent(in) :: swdir(2)    !! incident direct beam, (vis, nir) (W m-2)
    real(dp), intent(in) :: swdif(2)    !! incident diffuse, (vis, nir) (W m-2)
    real(dp), intent(in) :: coszen      !! cosine of the solar zenith angle
    real(dp), intent(in) :: lai_loc     !! leaf area per unit vegetated area (m2 m-2)
    real(dp), intent(in) :: sai_loc     !! stem area per unit vegetated area (m2 m-2)
    real(dp), intent(in) :: fveg        !! vegetated fraction of the patch (vgcov, or 0)
    real(dp), intent(in) :: rlfv        !! leaf reflectance, visible
    real(dp), intent(in) :: rlfn        !! leaf reflectance, near infrared
    real(dp), intent(in) :: tlfn        !! leaf transmittance, near infrared
    real(dp), intent(in) :: alb_g(2)    !! ground albedo (soil/snow), (vis, nir)
    real(dp), intent(out) :: sw_abs     !! shortwave absorbed by the patch (W m-2 of patch)
    real(dp), intent(out) :: sw_abs_veg !! shortwave absorbed by leaves+stems (W m-2 of patch)
    real(dp), intent(out) :: apar       !! PAR absorbed by green leaves (W m-2 of vegetated area)
    real(dp), intent(out) :: kpar       !! effective PAR extinction coefficient (-)
    real(dp) :: lt, wl, ws, omega, sq, rho_h, mu, kb, kbp, kdp, rho_cb, rho_cd, tb, td
    real(dp) :: rbeam, rdiff, rho_l, tau_l, rho_s, tau_s, veg_abs, can_abs, bare_abs
    integer :: b

    lt = lai_loc + sai_loc
    sw_abs = 0._dp
    sw_abs_veg = 0._dp
    apar = 0._dp
    kpar = 0.5_dp
    mu = max(coszen, 0.05_dp)
    do b = 1, 2
      bare_abs = (swdir(b) + swdif(b)) * (1._dp - alb_g(b))
      if (fveg <= 0._dp .or. lt <= 0._dp) then
        sw_abs = sw_abs + bare_abs
        cycle
      end if
      if (b == 1) then
        rho_l = rlfv
        tau_l = tau_leaf_vis
        rho_s = rho_stem_vis
        tau_s = tau_stem_vis
      else
        rho_l = rlfn
        tau_l = tlfn
        rho_s = rho_stem_nir
        tau_s = tau_stem_nir
      end if
      wl = lai_loc / lt
      ws = sai_loc / lt
      omega = min(wl * (rho_l + tau_l) + ws * (rho_s + tau_s), 0.98_dp)
      sq = sqrt(1._dp - omega)
      rho_h = (1._dp - sq) / (1._dp + sq)
      kb = 0.5_dp / mu
      kbp = kb * sq
      kdp = kd_black * sq
      rho_cb = 1._dp - exp(-2._dp * rho_h * kb / (1._dp + kb))
      rho_cd = 1._dp - exp(-2._dp * rho_h * kd_black / (1._dp + kd_black))
      tb = exp(-kbp * lt)
      td = exp(-kdp * lt)
      rbeam = rho_cb + (alb_g(b) - rho_cb) * tb * td
      rdiff = rho_cd + (alb_g(b) - rho_cd) * td * td
      veg_abs = swdir(b) * (1._dp - rbeam) + swdif(b) * (1._dp - rdiff)
      can_abs = swdir(b) * (1._dp - rho_cb) * (1._dp - tb) + swdif(b) * (1._dp - rho_cd) * (1._dp - td)
      sw_abs = sw_abs + fveg * veg_abs + (1._dp - fveg) * bare_abs
      sw_abs_veg = sw_abs_veg + fveg * can_abs
      if (b == 1) then
        apar = can_abs * wl
        if (swdir(1) + swdif(1) > 0._dp) then
          kpar = (swdir(1) * kbp + swdif(1) * kdp) / (swdir(1) + swdif(1))
        else
          kpar = kdp
        end if
      end if
    end do
  end subroutine canopy_shortwave

end module hm_radiation
